//! Error and status text that is safe to show: one line, no secrets.

/// Replaces the password of a URL's user-info with `***`, so connection
/// strings can appear in messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

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
    fn redact_url_hides_only_the_password() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/payments?sslmode=disable"),
            "postgres://app:***@db:5432/payments?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/payments"),
            "postgres://postgres@127.0.0.1:5432/payments"
        );
        assert_eq!(
            redact_url("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

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
