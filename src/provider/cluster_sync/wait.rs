//! The wait policy of a cluster: how often its sync status is polled, how a write refused
//! because a sync runs (409) is waited out and sent again, how long the read that
//! records an outcome may take, the one deadline a step's calls and waits share, and a
//! wait's timeout told in the configured timeout's terms.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::api::error::During;
use crate::api::http::human_duration;
use crate::api::retry::sleep_or_cancel;
use crate::api::{
    ApiError, CancelSyncRequest, Client, ClusterId, ProjectId, SyncAccepted, UpdateSyncRequest,
};
use crate::provider::clusters::Address;

use super::names::Names;

/// Status polls during a wait: at least this far apart (a few a second at most)...
const POLL_MIN: Duration = Duration::from_millis(250);
/// ...and at most this far apart, however long the sync runs.
const POLL_MAX: Duration = Duration::from_secs(30);
/// Bound on the read that records an outcome. That read ignores StopProvider: after
/// Ctrl-C the state must still say what the cluster holds, and Terraform waits for the
/// apply to return, so it has to be short.
const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(3);
/// ...and how far past the step's deadline it may go: a step ends within its timeout
/// and this, whatever the peer does.
const FINAL_READ_GRACE: Duration = Duration::from_secs(1);

/// A write to a cluster's IAM sync: start syncing names, or cancel them.
#[derive(Clone, Copy, Debug)]
pub enum Write<'a> {
    Sync(&'a UpdateSyncRequest),
    Cancel(&'a CancelSyncRequest),
}

/// One cluster as the waits see it.
pub struct Waits<'a> {
    pub client: &'a Client,
    pub project_id: &'a ProjectId,
    pub cluster_id: &'a ClusterId,
}

impl<'a> Waits<'a> {
    /// These waits on a client bound by `deadline`: every call and wait of the step that
    /// uses them ends by it.
    pub fn bounded<'b>(&self, client: &'b Client) -> Waits<'b>
    where
        'a: 'b,
    {
        Waits {
            client,
            project_id: self.project_id,
            cluster_id: self.cluster_id,
        }
    }

    /// The wait for the sync a write started. Its end shows the cluster idle, which
    /// `seen_idle` keeps for the cluster's next batch.
    pub async fn until_synced(
        &self,
        timeout: Duration,
        seen_idle: &AtomicBool,
        cancel: &CancellationToken,
    ) -> Result<(), ApiError> {
        self.until_idle(timeout, cancel).await?;
        seen_idle.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Polls the sync status until it is false: at once, then every 10 % of the wait so
    /// far, kept within POLL_MIN and POLL_MAX. So the end of a sync is noticed within
    /// max(POLL_MIN, 10 %) of it, and a long sync costs few polls. The whole wait,
    /// including the polls' own retries, is bounded by `timeout`; any error ends it.
    pub async fn until_idle(
        &self,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<(), ApiError> {
        let started = Instant::now();
        let wait = async {
            loop {
                let polled = Instant::now();
                match self
                    .client
                    .sync_status(self.project_id, self.cluster_id, cancel)
                    .await
                {
                    Ok(false) => return Ok(()),
                    Ok(true) => {}
                    // A poll cut off by the step's deadline: the sync had not ended.
                    Err(ApiError::Timeout { .. }) if self.past_deadline() => {
                        return Err(self.still_synchronizing(timeout))
                    }
                    Err(e) => return Err(e),
                }
                let every = poll_interval(started.elapsed());
                // Measured from the poll's start, so a slow round trip is not added on top.
                sleep_or_cancel(every.saturating_sub(polled.elapsed()), cancel).await?;
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r,
            Err(_) => Err(self.still_synchronizing(timeout)),
        }
    }

    /// Sends `write` and, while it is refused because a sync runs (another Terraform run,
    /// or a person in the console), waits that sync out and sends it again, all within
    /// `timeout`. Sets `wrote` once a write has gone out, whatever its answer.
    pub async fn write_when_idle(
        &self,
        write: Write<'_>,
        timeout: Duration,
        wrote: &mut bool,
        cancel: &CancellationToken,
    ) -> Result<SyncAccepted, ApiError> {
        let deadline = Instant::now() + timeout;
        let (c, p, k) = (self.client, self.project_id, self.cluster_id);
        loop {
            *wrote = true;
            let r = match write {
                Write::Sync(req) => c.update_sync(p, k, req, cancel).await,
                Write::Cancel(req) => c.cancel_sync(p, k, req, cancel).await,
            };
            match r {
                Err(e) if e.is_sync_running() => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(self.still_synchronizing(timeout));
                    }
                    crate::log_debug!(
                        "write refused while a sync runs; waiting it out",
                        cluster = k.as_str()
                    );
                    self.until_idle(left, cancel).await?;
                }
                r => return r,
            }
        }
    }

    /// The names synced now, for recording an outcome: not ended by StopProvider, but
    /// bounded by FINAL_READ_TIMEOUT.
    /// Past the step's deadline it has FINAL_READ_GRACE, so the step still ends soon.
    pub async fn read_for_state(&self) -> Result<Names, ApiError> {
        let uncancelled = CancellationToken::new();
        let bound = match self.client.deadline() {
            Some(d) => FINAL_READ_TIMEOUT.min(d.left() + FINAL_READ_GRACE),
            None => FINAL_READ_TIMEOUT,
        };
        let client = self.client.without_deadline();
        let read = client.show_sync(self.project_id, self.cluster_id, &uncancelled);
        match tokio::time::timeout(bound, read).await {
            Ok(r) => r.map(Names::from_remote),
            Err(_) => Err(ApiError::Timeout {
                message: format!(
                    "reading the synced names of cluster {} took over {}",
                    self.cluster_id,
                    human_duration(bound)
                ),
                during: During::InFlight,
            }),
        }
    }

    fn past_deadline(&self) -> bool {
        self.client.deadline().is_some_and(|d| d.left().is_zero())
    }

    /// In the step's configured terms when the client has them; callers that know the
    /// configured timeout restate the rest in its terms.
    fn still_synchronizing(&self, waited: Duration) -> ApiError {
        let message = match self.client.deadline() {
            Some(d) => format!(
                "cluster {} was still synchronizing when the {} timeout ran out",
                self.cluster_id,
                human_duration(d.timeout)
            ),
            None => format!(
                "cluster {} was still synchronizing after {}",
                self.cluster_id,
                human_duration(waited)
            ),
        };
        ApiError::Timeout {
            message,
            during: During::Sync,
        }
    }
}

/// The wait reports the time left, which after earlier waits is less than the configured
/// timeout; a person needs the configured one to know what to raise.
pub fn in_configured_terms(e: ApiError, address: &Address, timeout: Duration) -> ApiError {
    match e {
        // A call cut off by the deadline already says so in the configured terms.
        ApiError::Timeout {
            during: During::Sync,
            ..
        } => ApiError::Timeout {
            message: format!(
                "cluster {} was still synchronizing when the {} timeout ran out",
                address.cluster_id,
                human_duration(timeout)
            ),
            during: During::Sync,
        },
        e => e,
    }
}

/// A tenth of the wait so far, kept between POLL_MIN and POLL_MAX.
fn poll_interval(waited: Duration) -> Duration {
    (waited / 10).clamp(POLL_MIN, POLL_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ClientConfig, Credentials, Secret};
    use crate::sim::{self, SimConfig};

    #[test]
    fn timeout_errors_name_the_configured_timeout() {
        let (Ok(project_id), Ok(cluster_id)) = (ProjectId::parse("p1"), ClusterId::parse("c1"))
        else {
            unreachable!("valid IDs")
        };
        let address = Address {
            region: None,
            project_id,
            cluster_id,
        };
        // The wait reports the time left (here 1s of a 2s timeout): say 2s.
        let left = ApiError::Timeout {
            message: "cluster c1 was still synchronizing after 1s".into(),
            during: During::Sync,
        };
        let e = in_configured_terms(left, &address, Duration::from_secs(2));
        assert_eq!(
            e.to_string(),
            "timed out: cluster c1 was still synchronizing when the 2s timeout ran out"
        );
        assert_eq!(
            in_configured_terms(ApiError::Cancelled, &address, Duration::from_secs(2)),
            ApiError::Cancelled
        );
    }

    #[test]
    fn polls_follow_a_tenth_of_the_wait_within_bounds() {
        let at = |ms| poll_interval(Duration::from_millis(ms));
        assert_eq!(at(0), POLL_MIN);
        assert_eq!(at(2_000), POLL_MIN);
        assert_eq!(at(10_000), Duration::from_secs(1));
        assert_eq!(at(3_600_000), POLL_MAX);
    }

    /// An in-process mrs-sim with `sync_delay`, a client of it, and its endpoint.
    async fn sim(sync_delay: Duration) -> (Client, String, tokio::sync::oneshot::Sender<()>) {
        let mut cfg = SimConfig::new("AK", "SK");
        cfg.sync_delay = sync_delay;
        let (endpoint, stop) = sim::spawn_for_tests(cfg).await;
        let creds = Credentials {
            access_key: "AK".into(),
            secret_key: Secret::new("SK"),
            security_token: None,
        };
        let Ok(client) = Client::new(ClientConfig::new(endpoint.clone(), creds)) else {
            unreachable!("a valid client configuration")
        };
        (client, endpoint, stop)
    }

    fn ids() -> (ProjectId, ClusterId) {
        let (Ok(p), Ok(c)) = (ProjectId::parse("p1"), ClusterId::parse("c1")) else {
            unreachable!("valid IDs")
        };
        (p, c)
    }

    fn update(users: &[&str]) -> UpdateSyncRequest {
        UpdateSyncRequest {
            is_all_sync: false,
            user_names: users.iter().map(|s| s.to_string()).collect(),
            group_names: vec![],
        }
    }

    async fn sim_get(endpoint: &str, path: &str) -> serde_json::Value {
        let Ok(r) = reqwest::get(format!("{endpoint}{path}")).await else {
            return serde_json::Value::Null;
        };
        let bytes = r.bytes().await.unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_wait_follows_the_sync_and_ends_in_a_timeout_past_its_bound() {
        let (client, _, _stop) = sim(Duration::from_millis(400)).await;
        let (p, c) = ids();
        let waits = Waits {
            client: &client,
            project_id: &p,
            cluster_id: &c,
        };
        let cancel = CancellationToken::new();
        let started = Instant::now();
        assert!(client
            .update_sync(&p, &c, &update(&["bob"]), &cancel)
            .await
            .is_ok());
        let r = waits.until_idle(Duration::from_secs(5), &cancel).await;
        assert!(r.is_ok(), "{r:?}");
        assert!(started.elapsed() >= Duration::from_millis(350));
        assert_eq!(
            waits.read_for_state().await.ok().map(|n| n.users),
            Some(["bob".to_string()].into())
        );
        assert!(client
            .update_sync(&p, &c, &update(&["alice"]), &cancel)
            .await
            .is_ok());
        let r = waits.until_idle(Duration::from_millis(100), &cancel).await;
        assert!(matches!(r, Err(ApiError::Timeout { .. })), "{r:?}");
    }

    #[tokio::test]
    async fn a_write_refused_while_a_sync_runs_is_waited_out_and_sent_again() {
        let (client, endpoint, _stop) = sim(Duration::from_millis(300)).await;
        let (p, c) = ids();
        let waits = Waits {
            client: &client,
            project_id: &p,
            cluster_id: &c,
        };
        let cancel = CancellationToken::new();
        // Someone else's sync is running...
        assert!(client
            .update_sync(&p, &c, &update(&["bob"]), &cancel)
            .await
            .is_ok());
        // ...so a write is refused (409), then sent again once that sync has ended.
        let mine = update(&["carol"]);
        let mut wrote = false;
        let r = waits
            .write_when_idle(
                Write::Sync(&mine),
                Duration::from_secs(5),
                &mut wrote,
                &cancel,
            )
            .await;
        assert!(r.is_ok(), "{r:?}");
        assert!(wrote);
        let log = sim_get(&endpoint, "/_sim/requests").await;
        let statuses: Vec<_> = log
            .as_array()
            .into_iter()
            .flatten()
            .filter(|q| q["method"] == "POST")
            .map(|q| q["status"].clone())
            .collect();
        assert_eq!(statuses, vec![202, 409, 202], "{log}");
        // A refusal that outlasts the timeout is a Timeout, not the 409.
        let r = waits
            .write_when_idle(
                Write::Sync(&update(&["dave"])),
                Duration::from_millis(50),
                &mut wrote,
                &cancel,
            )
            .await;
        assert!(matches!(r, Err(ApiError::Timeout { .. })), "{r:?}");
    }
}
