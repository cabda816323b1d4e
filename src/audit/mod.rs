//! Audit: the offline re-verification of a whole store ([`fsck`]). It re-derives every
//! index row with the same code ingest used ([`crate::provenance`]) and never the other
//! way round: nothing below the audit depends on it.

pub mod fsck;
