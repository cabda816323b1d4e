//! The wire walk over protobuf bytes: tags, varints and length-delimited fields read
//! in place, nothing decoded or allocated.

use super::estimate::{Fold, Walk, Walked, FIELD_DATA_BYTES};
use super::schema::{Field, Msg};
use super::WireError;

/// Deepest nesting accepted, as prost's decoder (its recursion limit is 100).
const MAX_DEPTH: usize = 100;

fn malformed(what: &str) -> WireError {
    WireError::Malformed(format!("body is not a valid OTLP protobuf export request: {what}"))
}

/// Reads the varint at `position` and moves past it, with prost's own reader: the walk
/// and the decoder that runs after it agree on every varint.
fn read_varint(buf: &[u8], position: &mut usize) -> Result<u64, WireError> {
    let mut rest = buf.get(*position..).ok_or_else(|| malformed("truncated varint"))?;
    let value = prost::encoding::decode_varint(&mut rest).map_err(|_| malformed("invalid varint"))?;
    *position = buf.len() - rest.len();
    Ok(value)
}

fn skip(buf: &[u8], position: &mut usize, bytes: usize) -> Result<(), WireError> {
    let end = position.checked_add(bytes).filter(|end| *end <= buf.len());
    *position = end.ok_or_else(|| malformed("truncated field"))?;
    Ok(())
}

pub(super) fn walk_protobuf(buf: &[u8], msg: Msg, depth: usize, walk: &mut Walk) -> Result<Walked, WireError> {
    if depth > MAX_DEPTH {
        return Err(malformed("recursion limit reached"));
    }
    let mut fold = Fold::default();
    let mut position = 0;
    while position < buf.len() {
        let key = read_varint(buf, &mut position)?;
        let number = u32::try_from(key >> 3).map_err(|_| malformed("invalid field number"))?;
        if number == 0 {
            return Err(malformed("invalid tag value: 0"));
        }
        match key & 7 {
            0 => {
                read_varint(buf, &mut position)?;
                fold.data += FIELD_DATA_BYTES;
            }
            1 => {
                skip(buf, &mut position, 8)?;
                fold.data += FIELD_DATA_BYTES;
            }
            5 => {
                skip(buf, &mut position, 4)?;
                fold.data += FIELD_DATA_BYTES;
            }
            2 => {
                let len = usize::try_from(read_varint(buf, &mut position)?).map_err(|_| malformed("length"))?;
                let start = position;
                skip(buf, &mut position, len)?;
                match msg.proto_field(number) {
                    Field::Message(child, cardinality) => {
                        walk.enter(child, cardinality)?;
                        let walked = walk_protobuf(&buf[start..position], child, depth + 1, walk)?;
                        fold.add(msg, number, walked);
                    }
                    Field::Bytes(cardinality) => {
                        let data = walk.string(&buf[start..position], cardinality)?;
                        fold.data = fold.data.saturating_add(data);
                    }
                    // Unknown fields are dropped by the decoder; a known scalar sent
                    // length-delimited fails the decode later.
                    Field::Other => {}
                }
            }
            3 | 4 => return Err(malformed("protobuf groups are not part of OTLP")),
            other => return Err(malformed(&format!("invalid wire type value: {other}"))),
        }
    }
    Ok(fold.finish(msg, walk.item))
}
