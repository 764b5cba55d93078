//! AutoMTLS, the server side: our fresh certificate, verification of Terraform's P-521
//! client signatures, and pinning of the exact client certificate Terraform gave us.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, PrivateKeyDer, PrivatePkcs8KeyDer,
    SignatureVerificationAlgorithm, UnixTime,
};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio_rustls::TlsAcceptor;

/// go-plugin's server certificate lifetime (262980 hours, about 30 years).
const CERT_LIFETIME: Duration = Duration::from_secs(262_980 * 3600);
/// Backdating the certificate tolerates a client clock slightly behind ours.
const CERT_BACKDATE: Duration = Duration::from_secs(30);

/// Why mutual TLS could not be set up.
#[derive(Debug)]
pub enum TlsError {
    /// `PLUGIN_CLIENT_CERT` is not a usable PEM certificate.
    ClientCert(String),
    /// Building our certificate or the TLS server configuration failed.
    Setup(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::ClientCert(why) | TlsError::Setup(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for TlsError {}

/// The AutoMTLS server side: our fresh certificate and the acceptor that demands
/// Terraform's client certificate.
pub(super) struct ServerTls {
    pub(super) acceptor: TlsAcceptor,
    cert_der: CertificateDer<'static>,
}

impl ServerTls {
    pub(super) fn new(client_cert_pem: &str, organization: &str) -> Result<Self, TlsError> {
        let client_certs = parse_client_certs(client_cert_pem)?;
        let (cert_der, key_der) = generate_server_cert(organization)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = PinnedClientCert {
            allowed: client_certs,
            algorithms: client_signature_algorithms(),
        };
        // TLS 1.3 only: there a P-521 key always signs with ecdsa_secp521r1_sha512, which
        // we can verify. Under TLS 1.2 Go would pick ECDSA-P256-SHA256 with its P-521
        // key, a combination no verifier here implements. Terraform's Go has spoken
        // TLS 1.3 by default since Go 1.13.
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(vec![cert_der.clone()], key_der)
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        // gRPC runs over HTTP/2; newer grpc-go clients refuse a TLS server without ALPN.
        config.alpn_protocols = vec![b"h2".to_vec()];
        // One process serves one Terraform connection and go-plugin's client keeps no
        // session cache, so a resumption ticket could never be used: send none.
        config.send_tls13_tickets = 0;
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert_der,
        })
    }

    /// The CERT field: DER, standard base64 without padding (go-plugin's encoding).
    pub(super) fn cert_field(&self) -> String {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(self.cert_der.as_ref())
    }
}

fn parse_client_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::ClientCert(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::ClientCert(
            "no \"BEGIN CERTIFICATE\" block found".into(),
        ));
    }
    Ok(certs)
}

/// A self-signed ECDSA P-256 certificate for "localhost", as go-plugin makes, naming
/// `organization` (the plugin binary). It is not a CA: it is only ever the end entity
/// that Terraform pins.
fn generate_server_cert(
    organization: &str,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let tls_err = |e: rcgen::Error| TlsError::Setup(format!("cannot generate certificate: {e}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(tls_err)?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string()]).map_err(tls_err)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, organization);
    // rcgen's dates are `time` values; build them from the epoch so we need no `time`
    // dependency of our own.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + now.saturating_sub(CERT_BACKDATE);
    params.not_after = epoch + now + CERT_LIFETIME;
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.serial_number = Some(rcgen::SerialNumber::from_slice(
        &fastrand::u64(1..).to_be_bytes(),
    ));
    let cert = params.self_signed(&key).map_err(tls_err)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key_der))
}

/// ring's signature algorithms plus ECDSA P-521/SHA-512: go-plugin's AutoMTLS client key
/// is P-521, which ring does not implement, so without it Terraform's Go client finds no
/// common signature scheme and sends no certificate at all.
fn client_signature_algorithms() -> rustls::crypto::WebPkiSupportedAlgorithms {
    static ALGORITHMS: OnceLock<rustls::crypto::WebPkiSupportedAlgorithms> = OnceLock::new();
    *ALGORITHMS.get_or_init(|| {
        let ring = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        let mut all = ring.all.to_vec();
        all.push(&EcdsaP521Sha512);
        let mut mapping = ring.mapping.to_vec();
        mapping.insert(
            0,
            (SignatureScheme::ECDSA_NISTP521_SHA512, &[&EcdsaP521Sha512]),
        );
        // Built once per process; the rustls API wants 'static slices.
        rustls::crypto::WebPkiSupportedAlgorithms {
            all: Vec::leak(all),
            mapping: Vec::leak(mapping),
        }
    })
}

/// ECDSA over P-521 with SHA-512 (RustCrypto `p521`), for Terraform's client key.
#[derive(Debug)]
struct EcdsaP521Sha512;

impl SignatureVerificationAlgorithm for EcdsaP521Sha512 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        use p521::ecdsa::signature::Verifier as _;
        let key =
            p521::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let signature =
            p521::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify(message, &signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        rustls::pki_types::alg_id::ECDSA_P521
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        rustls::pki_types::alg_id::ECDSA_SHA512
    }
}

/// Accepts exactly the client certificate(s) Terraform gave us in `PLUGIN_CLIENT_CERT`.
///
/// Terraform's client certificate is self-signed with CA:TRUE, which webpki refuses as
/// an end entity, so the usual chain verifier would reject every real Terraform.
/// Pinning the exact certificate is at least as strict as go-plugin's "signed by the
/// given CA" check for the only client that has it; the handshake signature is still
/// verified, so a peer must hold the private key.
#[derive(Debug)]
struct PinnedClientCert {
    allowed: Vec<CertificateDer<'static>>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: Go's client then sends its one certificate regardless of issuer.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self
            .allowed
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORGANIZATION: &str = "terraform-provider-example";

    #[test]
    fn bad_pem_is_an_error() {
        assert!(matches!(
            parse_client_certs("not a pem"),
            Err(TlsError::ClientCert(_))
        ));
        let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_client_certs(broken),
            Err(TlsError::ClientCert(_))
        ));
        assert!(ServerTls::new("garbage", ORGANIZATION).is_err());
    }

    fn client_cert() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap()
    }

    #[test]
    fn server_cert_and_field() {
        let client = client_cert();
        let tls = ServerTls::new(&client.cert.pem(), ORGANIZATION).unwrap();
        let field = tls.cert_field();
        assert!(!field.contains('='), "no padding: {field}");
        let der = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&field)
            .unwrap();
        assert_eq!(der, tls.cert_der.as_ref());
        // Two starts, two different certificates.
        let again = ServerTls::new(&client.cert.pem(), ORGANIZATION).unwrap();
        assert_ne!(again.cert_der, tls.cert_der);
    }

    #[test]
    fn p521_sha512_signatures_verify() {
        use p521::ecdsa::signature::Signer as _;
        let key = p521::ecdsa::SigningKey::from_slice(&[1u8; 66]).unwrap();
        let public = p521::ecdsa::VerifyingKey::from(&key).to_sec1_point(false);
        let signature: p521::ecdsa::Signature = key.sign(b"handshake transcript");
        let der = signature.to_der();
        let alg = EcdsaP521Sha512;
        assert!(alg
            .verify_signature(public.as_bytes(), b"handshake transcript", der.as_bytes())
            .is_ok());
        assert!(alg
            .verify_signature(public.as_bytes(), b"another transcript", der.as_bytes())
            .is_err());
        assert!(alg
            .verify_signature(b"not a key", b"handshake transcript", der.as_bytes())
            .is_err());
        assert!(alg
            .verify_signature(public.as_bytes(), b"handshake transcript", b"junk")
            .is_err());
        // Offered to the client, so Go's P-521 client certificate gets sent at all.
        assert!(client_signature_algorithms()
            .supported_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }

    #[test]
    fn verifier_pins_the_given_certificate() {
        let a = client_cert();
        let b = client_cert();
        let verifier = PinnedClientCert {
            allowed: parse_client_certs(&a.cert.pem()).unwrap(),
            algorithms: client_signature_algorithms(),
        };
        let now = UnixTime::now();
        assert!(verifier.verify_client_cert(a.cert.der(), &[], now).is_ok());
        assert!(verifier.verify_client_cert(b.cert.der(), &[], now).is_err());
        assert!(verifier.client_auth_mandatory());
    }
}
