//! The web dashboard (issue 8): `web/dist`, built by `web/build.sh` and committed, embedded in
//! the binary with `include_bytes!` so `aidf serve` needs no files and no network to serve it.
//! The page calls the same `/v1` API with the token the user pastes (kept in sessionStorage).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! dist {
    ($file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../web/dist/",
            $file
        ))
    };
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        bytes: dist!("index.html"),
    },
    Asset {
        path: "/assets/app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: dist!("app.js"),
    },
    Asset {
        path: "/assets/app.css",
        content_type: "text/css; charset=utf-8",
        bytes: dist!("app.css"),
    },
];

/// Everything the page loads comes from this server: no CDN, no inline script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

fn respond(a: &'static Asset) -> Response {
    let mut res = a.bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// `/` and `/assets/*`, outside the OpenAPI document (they are not API).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new();
    for a in ASSETS {
        r = r.route(a.path, get(move || async move { respond(a) }));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_embedded_and_self_contained() {
        let html = std::str::from_utf8(ASSETS[0].bytes).expect("utf8");
        assert!(html.contains("/assets/app.js") && html.contains("/assets/app.css"));
        // No asset refers to another host (no CDN, no web fonts).
        for a in ASSETS {
            let text = String::from_utf8_lossy(a.bytes);
            for bad in ["https://cdn", "fonts.googleapis", "unpkg.com", "jsdelivr"] {
                assert!(!text.contains(bad), "{} refers to {bad}", a.path);
            }
        }
    }
}
