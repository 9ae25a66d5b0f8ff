//! The generic REST JSON source: one HTTP(S) endpoint, an auth method, a records pointer and a
//! pagination style. Vendor presets and further auth or pagination kinds are more variants of
//! [`AuthConfig`] and [`PaginationConfig`].
//!
//! A fetch is all or nothing: any failure on any page is an error and no record is returned, so
//! a half-read company can never make the other half look like leavers.

mod auth;
mod changes;
mod client;
mod config;
mod one;
mod paging;
mod request;

pub(crate) use changes::{Changes, changed_ids};
pub(crate) use client::{fetch_pages, same_origin_redirects};
pub(crate) use config::is_loopback;
pub use config::{AuthConfig, Credential, HttpMethod, PaginationConfig, QueryValue, RestConfig};
pub(crate) use one::{Lookup, Lookups};

#[cfg(test)]
mod tests {
    use super::config::*;
    use super::paging::*;
    use reqwest::header::{HeaderMap, HeaderValue, LINK};

    fn links(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(LINK, HeaderValue::from_static(value));
        }
        headers
    }

    fn problems(text: &str) -> Vec<String> {
        let config: RestConfig = match toml::from_str(text) {
            Ok(config) => config,
            Err(e) => return vec![format!("parse: {e}")],
        };
        let mut problems = Vec::new();
        config.validate(&mut problems);
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn new_auth_pagination_and_retry_settings_are_validated() {
        let base = "url = \"https://api.example.com/v1/people\"\nrecords = \"/data\"\n";
        assert_eq!(
            problems(&format!(
                "{base}[auth]\ntype = \"oauth2\"\ntoken_url = \"https://login.example.com/t\"\n\
                 client_id = \"id\"\nclient_secret = {{ env = \"S\" }}\n\
                 [pagination]\ntype = \"cursor\"\nparam = \"page[after]\"\n\
                 next_ptr = \"/meta/page/nextCursor\"\n"
            )),
            Vec::<String>::new()
        );
        let found = problems(&format!(
            "{base}[auth]\ntype = \"oauth2\"\ntoken_url = \"http://login.example.com/t\"\n\
             client_id = \"id\"\nclient_secret = {{ env = \"S\" }}\ntoken_ptr = \"token\"\n\
             [pagination]\ntype = \"page\"\nsize = 0\ntotal_pages_header = \"X-Total\"\n\
             total_pages_ptr = \"/pages\"\n[retry]\nmax_attempts = 0\n"
        ))
        .join("\n");
        for key in [
            "hr.rest.auth.token_url",
            "hr.rest.auth.token_ptr",
            "hr.rest.pagination.size",
            "hr.rest.pagination.total_pages_ptr",
            "hr.rest.retry.max_attempts",
        ] {
            assert!(found.contains(key), "{key} missing in:\n{found}");
        }
        let found = problems(&format!(
            "{base}query = {{ cursor = \"x\" }}\n[pagination]\ntype = \"cursor\"\n\
             param = \"cursor\"\nnext_ptr = \"\"\n"
        ))
        .join("\n");
        assert!(found.contains("hr.rest.pagination.param"), "{found}");
        assert!(found.contains("hr.rest.pagination.next_ptr"), "{found}");
    }

    #[test]
    fn link_headers_give_the_next_target() {
        assert_eq!(
            next_link(&links(&[
                r#"<https://a.example/x?page=1>; rel="first", <https://a.example/x?page=3>; rel="next""#
            ])),
            Some("https://a.example/x?page=3".into())
        );
        assert_eq!(
            next_link(&links(&[
                r#"</x?page=1>; rel=prev"#,
                r#"</x?page=2>; rel="next last""#
            ])),
            Some("/x?page=2".into())
        );
        assert_eq!(next_link(&links(&[r#"</x?page=1>; rel="prev""#])), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }
}
