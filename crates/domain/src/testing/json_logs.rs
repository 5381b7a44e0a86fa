//! The JSON log shape every service writes with `LOG_FORMAT=json`
//! (docs/operations.md): one flat object per line, so a log collector
//! parses the API's, the worker's and `manage`'s lines with one rule.

use serde_json::{Map, Value};

/// Parses every line of `logs` and panics, naming `what`, at the first one
/// that is not a flat JSON log object: `timestamp`, `level`, `target` and
/// the event's own fields (`message` first among them) at the top level,
/// not nested under `fields`. Answers the parsed lines.
pub fn flat_json_lines(what: &str, logs: &str) -> Vec<Map<String, Value>> {
    logs.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let Ok(Value::Object(object)) = serde_json::from_str(line) else {
                panic!("{what}: not a JSON object: {line}");
            };
            for key in ["timestamp", "level", "target"] {
                assert!(object.contains_key(key), "{what}: no {key:?} in {line}");
            }
            assert!(
                !object.contains_key("fields"),
                "{what}: the event is nested under \"fields\": {line}"
            );
            object
        })
        .collect()
}
