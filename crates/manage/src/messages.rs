//! Error and status text that is safe to show: one line, no secrets.

pub use domain::settings::redact_url;

/// An error and its causes on a single line (`outer: inner: root`).
pub fn one_line(error: &anyhow::Error) -> String {
    format!("{error:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// An error with its sources, `outer: inner`, skipping a source whose text
/// the outer message already shows.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_causes_and_removes_line_breaks() {
        let error = anyhow::anyhow!("root\ncause").context("outer");
        assert_eq!(one_line(&error), "outer: root cause");
    }

    #[test]
    fn describe_appends_sources_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = anyhow::Error::new(io).context("cannot connect");
        let boxed: Box<dyn std::error::Error> = error.into();
        assert_eq!(describe(boxed.as_ref()), "cannot connect: refused");
    }
}
