//! The provider binary: Terraform starts it; see the `protocol` module for the handshake.

fn main() {
    eprintln!("terraform-provider-mrs: skeleton");
    std::process::exit(1);
}
