//! The two languages the service speaks: the seed's Spanish by default,
//! English when the client asks for it (`Accept-Language: en`).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Es,
    En,
}

impl Lang {
    /// Picks the language from an `Accept-Language` header value: the first
    /// listed language we speak wins (quality values are honoured).
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::Es;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            // q=0 means "not acceptable".
            if quality <= 0.0 {
                continue;
            }
            let lang = match tag.split('-').next() {
                Some("en") => Lang::En,
                Some("es") => Lang::Es,
                _ => continue,
            };
            if best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map_or(Lang::Es, |(_, lang)| lang)
    }

    /// Chooses between the Spanish and the English text of a message.
    pub fn pick<'a>(self, es: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Es => es,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_is_the_default() {
        assert_eq!(Lang::from_accept_language(None), Lang::Es);
        assert_eq!(Lang::from_accept_language(Some("fr-FR")), Lang::Es);
    }

    #[test]
    fn english_when_asked_for() {
        assert_eq!(Lang::from_accept_language(Some("en")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("es;q=0.5, en;q=0.8")),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language(Some("es, en;q=0.8")), Lang::Es);
    }

    #[test]
    fn a_language_with_quality_zero_is_not_acceptable() {
        assert_eq!(Lang::from_accept_language(Some("en;q=0")), Lang::Es);
        assert_eq!(Lang::from_accept_language(Some("es;q=0, en")), Lang::En);
    }
}
