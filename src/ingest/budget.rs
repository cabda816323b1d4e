//! The in-flight ingest memory budget: one byte count shared by every ingest request
//! (HTTP and gRPC, traces and logs).
//!
//! A request reserves memory *before* it holds it — the body as it arrives (or its
//! `Content-Length` up front), the inflated bytes as they are inflated, then the
//! estimated size of the decoded and normalized request (see [`super::wire`]) before it
//! is decoded — and keeps the reservation until it is answered. A reservation that
//! does not fit next to the others fails at once ([`BudgetError::Exhausted`]: 429 /
//! RESOURCE_EXHAUSTED with a retry delay); one larger than the whole budget can never
//! fit ([`BudgetError::TooLarge`]: 413). Nothing waits for memory, so nothing queues it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Why memory could not be reserved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// The request alone needs more than the whole budget: it can never be served.
    #[error(
        "the request needs about {} of memory to decode, more than the whole ingest memory budget of {} \
         (--ingest-memory-budget-bytes); send smaller requests",
        mib(*needed),
        mib(*total)
    )]
    TooLarge {
        /// Bytes the request needs.
        needed: usize,
        /// The whole budget.
        total: usize,
    },
    /// Requests in flight hold the budget; this one fits once they are answered.
    #[error(
        "the ingest memory budget ({}) is held by requests in flight; retry later",
        mib(*total)
    )]
    Exhausted {
        /// Bytes the request needs.
        needed: usize,
        /// The whole budget.
        total: usize,
    },
}

/// `1234567` → `"1.2 MiB"`.
pub fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The shared budget.
#[derive(Debug)]
pub struct MemoryBudget {
    total: usize,
    in_use: AtomicUsize,
    refused: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> Arc<Self> {
        Arc::new(MemoryBudget {
            total,
            in_use: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// The whole budget in bytes.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes reserved by requests in flight.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::SeqCst)
    }

    /// Reservations refused since start (either error).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    /// An empty reservation, to grow as the request's memory becomes known.
    pub fn reservation(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: Mutex::new(0),
        }
    }

    fn try_take(&self, bytes: usize) -> bool {
        self.in_use
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |in_use| {
                in_use.checked_add(bytes).filter(|after| *after <= self.total)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.in_use.fetch_sub(bytes, Ordering::SeqCst);
    }
}

/// Memory reserved by one request; released when dropped (when the request is answered).
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    held: Mutex<usize>,
}

impl Reservation {
    /// Grows the reservation to at least `bytes` in all (never shrinks it).
    pub fn grow_to(&self, bytes: usize) -> Result<(), BudgetError> {
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if bytes <= *held {
            return Ok(());
        }
        let total = self.budget.total;
        if bytes > total {
            self.budget.refused.fetch_add(1, Ordering::SeqCst);
            return Err(BudgetError::TooLarge { needed: bytes, total });
        }
        if !self.budget.try_take(bytes - *held) {
            self.budget.refused.fetch_add(1, Ordering::SeqCst);
            return Err(BudgetError::Exhausted { needed: bytes, total });
        }
        *held = bytes;
        Ok(())
    }

    /// Grows the reservation by `bytes`.
    pub fn grow_by(&self, bytes: usize) -> Result<(), BudgetError> {
        let target = self.held().saturating_add(bytes);
        self.grow_to(target)
    }

    /// Shrinks the reservation to `bytes` (memory the request no longer holds).
    pub fn shrink_to(&self, bytes: usize) {
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if bytes < *held {
            self.budget.give_back(*held - bytes);
            *held = bytes;
        }
    }

    /// Bytes this reservation holds.
    pub fn held(&self) -> usize {
        *self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let held = *self.held.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.budget.give_back(held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_add_up_and_are_released_on_drop() {
        let budget = MemoryBudget::new(100);
        let first = budget.reservation();
        first.grow_to(60).unwrap();
        first.grow_to(40).unwrap();
        assert_eq!(first.held(), 60, "never shrinks by grow_to");
        let second = budget.reservation();
        assert_eq!(
            second.grow_to(50),
            Err(BudgetError::Exhausted { needed: 50, total: 100 })
        );
        assert_eq!(second.held(), 0, "a refused growth takes nothing");
        second.grow_to(40).unwrap();
        assert_eq!(budget.in_use(), 100);
        assert_eq!(
            second.grow_to(101),
            Err(BudgetError::TooLarge {
                needed: 101,
                total: 100
            })
        );
        first.shrink_to(10);
        assert_eq!(budget.in_use(), 50);
        second.grow_by(50).unwrap();
        assert_eq!(second.held(), 90);
        drop(first);
        drop(second);
        assert_eq!(budget.in_use(), 0);
        assert_eq!(budget.refused(), 2);
    }

    #[test]
    fn messages_name_the_flag() {
        let message = BudgetError::TooLarge {
            needed: 3 << 30,
            total: 512 << 20,
        }
        .to_string();
        assert!(
            message.contains("3072.0 MiB") && message.contains("--ingest-memory-budget-bytes"),
            "{message}"
        );
    }
}
