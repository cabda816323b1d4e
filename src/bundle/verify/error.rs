//! The stable error of bundle verification: one variant per failing check, each with a
//! snake_case code (`traceledger verify --json`) that `docs/bundle-format.md` §7, the
//! tests and the Python interop verifier rely on. Codes never change once published.

/// The first check of a bundle that failed. Each variant is one step of the verification
/// order (see the docs of [`bundle::verify`](crate::bundle::verify)); [`VerifyError::code`]
/// gives a stable machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The bytes are not a DSSE envelope (JSON object with `payloadType`, base64 `payload`
    /// and a non-empty `signatures` list).
    #[error("envelope is malformed: {0}")]
    EnvelopeMalformed(String),
    /// The envelope's `payloadType` is not `application/vnd.in-toto+json`.
    #[error("payload type {0:?} is not application/vnd.in-toto+json")]
    WrongPayloadType(String),
    /// The bundle is signed by, or names, another key than the trusted one.
    #[error("bundle key {found:?} is not the trusted key")]
    UntrustedKey {
        /// The key the bundle uses.
        found: String,
    },
    /// The key is not an Ed25519 signed-note verifier key `<name>+<hex8>+<base64>`.
    #[error("verifier key is malformed: {0}")]
    BadVerifierKey(String),
    /// The DSSE signature does not verify over `PAE(payloadType, payload)`.
    #[error("envelope signature does not verify")]
    BadEnvelopeSignature,
    /// The payload is not in RFC 8785 (JCS) canonical form.
    #[error("payload is not RFC 8785 canonical JSON")]
    PayloadNotCanonical,
    /// The payload is not an in-toto statement with a well-formed predicate.
    #[error("statement is malformed: {0}")]
    StatementMalformed(String),
    /// The statement's `_type` is not in-toto Statement v1.
    #[error("statement type {0:?} is not https://in-toto.io/Statement/v1")]
    WrongStatementType(String),
    /// The statement's `predicateType` is not the traceledger audit bundle.
    #[error("predicate type {0:?} is not https://traceledger.dev/audit-bundle/v1")]
    WrongPredicateType(String),
    /// The predicate's `version` is not one this verifier understands.
    #[error("unsupported bundle version {0}")]
    UnsupportedVersion(u64),
    /// Without a trusted key: the predicate's verifier key is not the key that signed the envelope.
    #[error("predicate verifier key {found:?} is not the envelope's key {expected:?}")]
    KeyMismatch {
        /// The envelope's key id.
        expected: String,
        /// The predicate's `log.verifier_key`.
        found: String,
    },
    /// A field does not decode (base64, hex, id length).
    #[error("field {field} is malformed: {reason}")]
    FieldMalformed {
        /// Where, e.g. `entries[2].inclusion_proof[0]`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint note or its text is not well-formed.
    #[error("checkpoint is malformed: {0}")]
    CheckpointMalformed(String),
    /// The checkpoint is not signed by the key.
    #[error("checkpoint signature does not verify: {0}")]
    BadCheckpointSignature(String),
    /// The checkpoint, the key name and `predicate.log.origin` do not name the same log.
    #[error("origin {found:?} is not the expected {expected:?}")]
    OriginMismatch {
        /// The origin that was expected.
        expected: String,
        /// The origin found.
        found: String,
    },
    /// Entries are not sorted by index, or an index appears twice.
    #[error("entry {index} is duplicated or out of order")]
    DuplicateOrUnsortedEntry {
        /// The index that breaks the order.
        index: u64,
    },
    /// The entry bytes are not an entry object.
    #[error("entry {index} is malformed: {reason}")]
    EntryMalformed {
        /// The entry's index (as listed in the bundle).
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// The entry bytes are not RFC 8785 canonical.
    #[error("entry {index} is not RFC 8785 canonical")]
    EntryNotCanonical {
        /// The entry's index.
        index: u64,
    },
    /// The entry's own `index` differs from the index it is listed under.
    #[error("entry listed as {index} says it is entry {found}")]
    EntryIndexMismatch {
        /// The index the bundle lists.
        index: u64,
        /// The entry's `index` field.
        found: u64,
    },
    /// The entry's `log` is not the bundle's origin.
    #[error("entry {index} belongs to log {found:?}")]
    EntryWrongLog {
        /// The entry's index.
        index: u64,
        /// The entry's `log` field.
        found: String,
    },
    /// The entry's index is not below the checkpoint's tree size.
    #[error("entry {index} is beyond the checkpoint (tree size {size})")]
    EntryBeyondCheckpoint {
        /// The entry's index.
        index: u64,
        /// The checkpoint's tree size.
        size: u64,
    },
    /// The inclusion proof does not lead from the entry's leaf hash to the checkpoint root.
    #[error("inclusion proof of entry {index} does not verify")]
    InclusionProofFailed {
        /// The entry's index.
        index: u64,
    },
    /// The entry's `tlog_proof` is not the C2SP rendering of its index, proof and checkpoint.
    #[error("tlog_proof of entry {index} does not match its inclusion proof and checkpoint")]
    TlogProofMismatch {
        /// The entry's index.
        index: u64,
    },
    /// The entry's `prev` is not the leaf hash of the entry before it (both in the bundle),
    /// or entry 0's `prev` is not 64 zeros.
    #[error("hash chain broken at entry {index}")]
    BrokenChain {
        /// The later entry of the pair.
        index: u64,
    },
    /// The revealed content does not open its commitment.
    #[error("revealed content {sha256} does not open its commitment")]
    ContentMismatch {
        /// The commitment digest.
        sha256: String,
    },
    /// No entry of the bundle carries the commitment `{"sha256":..,"len":..}` of a revealed content.
    #[error("revealed content {sha256} is not committed in any entry of the bundle")]
    ContentNotCommitted {
        /// The commitment digest.
        sha256: String,
    },
    /// A span's parent is neither in the bundle nor listed in `outside_selection`.
    #[error("trace {trace_id} is incomplete: span {span_id} has parent {missing_parent}, which is neither in the bundle nor in outside_selection")]
    IncompleteTree {
        /// The trace.
        trace_id: String,
        /// The child span.
        span_id: String,
        /// The parent span id that is missing.
        missing_parent: String,
    },
    /// A span is linked to a pipeline version or deployment whose governance entry is not
    /// in the bundle: the pipeline context the span claims cannot be checked.
    #[error("span entry {index} is linked to {kind} {id}, which is not in the bundle")]
    MissingPipelineContext {
        /// The span entry.
        index: u64,
        /// `pipeline_version` or `deployment`.
        kind: String,
        /// The record id.
        id: String,
    },
    /// An `outputs` item is not backed by the bundle.
    #[error("output {sha256} is not committed: {reason}")]
    OutputNotCommitted {
        /// The item's `sha256`.
        sha256: String,
        /// Which link of the chain is missing.
        reason: String,
    },
    /// A subject digest has no `outputs` item.
    #[error("subject {digest} is not backed by any output in the bundle")]
    SubjectNotCommitted {
        /// The subject's sha256 digest.
        digest: String,
    },
    /// The `entries` subject's digest is not the digest of the bundle's entries.
    #[error("the entries subject digest {found} is not the digest of the bundle's entries ({expected})")]
    EntriesSubjectMismatch {
        /// The subject's sha256 digest.
        found: String,
        /// [`crate::bundle::format::entries_digest`] of the bundle's entries.
        expected: String,
    },
    /// The newer checkpoint of the consistency proof is not valid.
    #[error("consistency checkpoint is not valid: {0}")]
    ConsistencyCheckpointInvalid(String),
    /// The consistency proof does not show the bundle's checkpoint is a prefix of the newer one.
    #[error("consistency proof does not verify: {0}")]
    ConsistencyFailed(String),
}

impl VerifyError {
    /// A stable snake_case code for machine-readable reports (`traceledger verify --json`).
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::EnvelopeMalformed(_) => "envelope_malformed",
            VerifyError::WrongPayloadType(_) => "wrong_payload_type",
            VerifyError::UntrustedKey { .. } => "untrusted_key",
            VerifyError::BadVerifierKey(_) => "bad_verifier_key",
            VerifyError::BadEnvelopeSignature => "bad_envelope_signature",
            VerifyError::PayloadNotCanonical => "payload_not_canonical",
            VerifyError::StatementMalformed(_) => "statement_malformed",
            VerifyError::WrongStatementType(_) => "wrong_statement_type",
            VerifyError::WrongPredicateType(_) => "wrong_predicate_type",
            VerifyError::UnsupportedVersion(_) => "unsupported_version",
            VerifyError::KeyMismatch { .. } => "key_mismatch",
            VerifyError::FieldMalformed { .. } => "field_malformed",
            VerifyError::CheckpointMalformed(_) => "checkpoint_malformed",
            VerifyError::BadCheckpointSignature(_) => "bad_checkpoint_signature",
            VerifyError::OriginMismatch { .. } => "origin_mismatch",
            VerifyError::DuplicateOrUnsortedEntry { .. } => "duplicate_or_unsorted_entry",
            VerifyError::EntryMalformed { .. } => "entry_malformed",
            VerifyError::EntryNotCanonical { .. } => "entry_not_canonical",
            VerifyError::EntryIndexMismatch { .. } => "entry_index_mismatch",
            VerifyError::EntryWrongLog { .. } => "entry_wrong_log",
            VerifyError::EntryBeyondCheckpoint { .. } => "entry_beyond_checkpoint",
            VerifyError::InclusionProofFailed { .. } => "inclusion_proof_failed",
            VerifyError::TlogProofMismatch { .. } => "tlog_proof_mismatch",
            VerifyError::BrokenChain { .. } => "broken_chain",
            VerifyError::ContentMismatch { .. } => "content_mismatch",
            VerifyError::ContentNotCommitted { .. } => "content_not_committed",
            VerifyError::IncompleteTree { .. } => "incomplete_tree",
            VerifyError::MissingPipelineContext { .. } => "missing_pipeline_context",
            VerifyError::OutputNotCommitted { .. } => "output_not_committed",
            VerifyError::SubjectNotCommitted { .. } => "subject_not_committed",
            VerifyError::EntriesSubjectMismatch { .. } => "entries_subject_mismatch",
            VerifyError::ConsistencyCheckpointInvalid(_) => "consistency_checkpoint_invalid",
            VerifyError::ConsistencyFailed(_) => "consistency_failed",
        }
    }
}
