//! The sequencer: one group-commit task per tenant log.
//!
//! Ingest requests hand their prepared items to the tenant's queue and wait. The task
//! takes the first waiting request and every other one already queued (up to
//! `max_batch_entries`), appends them all in one store transaction with one signed
//! checkpoint, and answers each request only after that commit. Queues are bounded:
//! when one is full, [`Sequencer::submit`] fails fast with [`SubmitError::Overloaded`]
//! and the HTTP/gRPC adapters answer 429 / RESOURCE_EXHAUSTED with `Retry-After`.
//!
//! If a merged batch fails, each request in it is retried on its own, so one bad
//! request cannot fail its neighbours.

use std::collections::HashMap;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;

use crate::ledger::checkpoint::LogSigner;
use crate::store::{AppendItem, AppendReceipt, AppendedAs, Store, StoreError, Tenant};

/// Tuning of the sequencer.
#[derive(Debug, Clone, Copy)]
pub struct SequencerConfig {
    /// Requests that may wait per tenant before new ones are refused.
    pub queue_depth: usize,
    /// Upper bound of entries merged into one transaction.
    pub max_batch_entries: usize,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            queue_depth: 1024,
            max_batch_entries: 8192,
        }
    }
}

/// Why a submission failed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The tenant's queue is full; retry later.
    #[error("ingest queue is full")]
    Overloaded,
    /// The sequencer is shutting down.
    #[error("server is shutting down")]
    ShuttingDown,
    /// The store failed; nothing of this request was committed.
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// An item could not become an entry that every reader can parse (nothing of this
    /// request was queued).
    #[error("item {position}: {reason}")]
    Invalid {
        /// Position of the item in the submission.
        position: usize,
        /// Why.
        reason: crate::ledger::entry::EntryError,
    },
}

struct Job {
    items: Vec<AppendItem>,
    reply: oneshot::Sender<Result<AppendReceipt, Arc<StoreError>>>,
}

struct Worker {
    sender: mpsc::Sender<Job>,
    handle: JoinHandle<()>,
}

/// Per-tenant group commit in front of the store.
pub struct Sequencer {
    store: Arc<dyn Store>,
    signing_key: SigningKey,
    config: SequencerConfig,
    workers: Mutex<HashMap<i64, Worker>>,
    closed: std::sync::atomic::AtomicBool,
}

impl Sequencer {
    /// A sequencer over `store`, signing checkpoints with `signing_key`.
    pub fn new(store: Arc<dyn Store>, signing_key: SigningKey, config: SequencerConfig) -> Arc<Self> {
        Arc::new(Sequencer {
            store,
            signing_key,
            config,
            workers: Mutex::new(HashMap::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Appends `items` to the tenant's log; returns once they are durable.
    pub async fn submit(&self, tenant: &Tenant, items: Vec<AppendItem>) -> Result<AppendReceipt, SubmitError> {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SubmitError::ShuttingDown);
        }
        // Refused here, before the item can share a commit with anyone else's.
        for (position, item) in items.iter().enumerate() {
            crate::ledger::entry::check_body_depth(&item.entry.body)
                .map_err(|reason| SubmitError::Invalid { position, reason })?;
        }
        let (reply, answer) = oneshot::channel();
        let sender = self.sender_for(tenant).await?;
        sender.try_send(Job { items, reply }).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => SubmitError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => SubmitError::ShuttingDown,
        })?;
        match answer.await {
            Ok(result) => result.map_err(SubmitError::Store),
            Err(_) => Err(SubmitError::ShuttingDown),
        }
    }

    async fn sender_for(&self, tenant: &Tenant) -> Result<mpsc::Sender<Job>, SubmitError> {
        let mut workers = self.workers.lock().await;
        if let Some(worker) = workers.get(&tenant.id) {
            return Ok(worker.sender.clone());
        }
        let signer = LogSigner::new(&tenant.origin, self.signing_key.clone())
            .map_err(|error| SubmitError::Store(Arc::new(StoreError::Sign(error))))?;
        let (sender, receiver) = mpsc::channel(self.config.queue_depth);
        let handle = tokio::spawn(run_worker(
            self.store.clone(),
            tenant.clone(),
            signer,
            receiver,
            self.config.max_batch_entries,
        ));
        workers.insert(
            tenant.id,
            Worker {
                sender: sender.clone(),
                handle,
            },
        );
        Ok(sender)
    }

    /// Stops accepting work, lets every queued request commit, and waits for the tasks.
    pub async fn shutdown(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        let workers: Vec<Worker> = self.workers.lock().await.drain().map(|(_, worker)| worker).collect();
        for worker in workers {
            drop(worker.sender);
            if let Err(error) = worker.handle.await {
                tracing::error!(%error, "sequencer task failed");
            }
        }
    }
}

async fn run_worker(
    store: Arc<dyn Store>,
    tenant: Tenant,
    signer: LogSigner,
    mut receiver: mpsc::Receiver<Job>,
    max_batch_entries: usize,
) {
    while let Some(first) = receiver.recv().await {
        let mut entry_count = first.items.len();
        let mut jobs = vec![first];
        while entry_count < max_batch_entries {
            match receiver.try_recv() {
                Ok(job) => {
                    entry_count += job.items.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        commit_jobs(store.as_ref(), &tenant, &signer, jobs).await;
    }
}

async fn commit_jobs(store: &dyn Store, tenant: &Tenant, signer: &LogSigner, mut jobs: Vec<Job>) {
    let started = std::time::Instant::now();
    let lengths: Vec<usize> = jobs.iter().map(|job| job.items.len()).collect();
    let merged: Vec<AppendItem> = jobs.iter_mut().flat_map(|job| std::mem::take(&mut job.items)).collect();
    let entry_count = merged.len();
    match store.append_batch(tenant, &merged, signer).await {
        Ok(receipt) => {
            tracing::debug!(
                tenant = %tenant.name,
                requests = jobs.len(),
                entries = entry_count,
                tree_size = receipt.tree_size,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "batch committed"
            );
            let mut offset = 0;
            for (job, length) in jobs.into_iter().zip(lengths) {
                let indexes = receipt.indexes[offset..offset + length].to_vec();
                offset += length;
                let _ = job.reply.send(Ok(AppendReceipt {
                    indexes,
                    tree_size: receipt.tree_size,
                    checkpoint: receipt.checkpoint.clone(),
                }));
            }
        }
        Err(error) if jobs.len() == 1 => {
            tracing::warn!(tenant = %tenant.name, error = %error, "append failed");
            if let Some(job) = jobs.into_iter().next() {
                let _ = job.reply.send(Err(Arc::new(error)));
            }
        }
        Err(error) => {
            tracing::warn!(tenant = %tenant.name, error = %error, requests = jobs.len(), "merged append failed; retrying one by one");
            let mut offset = 0;
            for (job, length) in jobs.into_iter().zip(lengths) {
                let items = &merged[offset..offset + length];
                offset += length;
                let result = store.append_batch(tenant, items, signer).await.map_err(Arc::new);
                let _ = job.reply.send(result);
            }
        }
    }
}

/// Counts how many items of a receipt were newly appended.
pub fn count_new(receipt: &AppendReceipt) -> usize {
    receipt
        .indexes
        .iter()
        .filter(|fate| matches!(fate, AppendedAs::New(_)))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TenantName;
    use crate::ledger::batch::PendingEntry;
    use crate::store::SqliteStore;

    fn items(seed: usize, count: usize) -> Vec<AppendItem> {
        (0..count)
            .map(|i| AppendItem {
                entry: PendingEntry {
                    entry_type: "span".into(),
                    body: serde_json::json!({"seed": seed, "i": i}),
                },
                dedupe_key: Some(format!("{seed}:{i}")),
                ..AppendItem::default()
            })
            .collect()
    }

    /// Requests queued while the worker is busy (here: before it first runs, on a
    /// single-threaded runtime) are merged into one transaction and one checkpoint.
    #[tokio::test(flavor = "current_thread")]
    async fn queued_requests_share_one_commit_and_one_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
        let tenant = store
            .ensure_tenant(&TenantName::parse("acme").unwrap(), "example.org/acme")
            .await
            .unwrap();
        let sequencer = Sequencer::new(
            store.clone(),
            SigningKey::from_bytes(&[1u8; 32]),
            SequencerConfig::default(),
        );
        let (a, b, c, d, e) = tokio::join!(
            sequencer.submit(&tenant, items(1, 2)),
            sequencer.submit(&tenant, items(2, 2)),
            sequencer.submit(&tenant, items(3, 2)),
            sequencer.submit(&tenant, items(4, 2)),
            sequencer.submit(&tenant, items(1, 2)),
        );
        let receipts = [a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap(), e.unwrap()];
        assert_eq!(store.tree_size(&tenant).await.unwrap(), 8);
        assert_eq!(store.checkpoints(&tenant).await.unwrap().len(), 1, "one group commit");
        assert!(receipts.iter().all(|receipt| receipt.tree_size == 8));
        assert_eq!(receipts[0].indexes, vec![AppendedAs::New(0), AppendedAs::New(1)]);
        assert_eq!(
            receipts[4].indexes,
            vec![AppendedAs::Duplicate(0), AppendedAs::Duplicate(1)]
        );
        sequencer.shutdown().await;
        assert!(matches!(
            sequencer.submit(&tenant, items(9, 1)).await,
            Err(SubmitError::ShuttingDown)
        ));
    }

    /// A full queue answers Overloaded at once instead of waiting.
    #[tokio::test(flavor = "current_thread")]
    async fn full_queue_is_refused_immediately() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
        let tenant = store
            .ensure_tenant(&TenantName::parse("acme").unwrap(), "example.org/acme")
            .await
            .unwrap();
        let config = SequencerConfig {
            queue_depth: 2,
            max_batch_entries: 8192,
        };
        let sequencer = Sequencer::new(store.clone(), SigningKey::from_bytes(&[1u8; 32]), config);
        let (a, b, c) = tokio::join!(
            sequencer.submit(&tenant, items(1, 1)),
            sequencer.submit(&tenant, items(2, 1)),
            sequencer.submit(&tenant, items(3, 1)),
        );
        assert!(a.is_ok() && b.is_ok());
        assert!(matches!(c, Err(SubmitError::Overloaded)));
        assert_eq!(
            store.tree_size(&tenant).await.unwrap(),
            2,
            "nothing of the refused request"
        );
    }
}
