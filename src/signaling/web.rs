//! The host page: plain HTML, CSS and JavaScript modules (`app.js` for the page, `mesh.js` for
//! WebRTC and audio levels) from `src/signaling/web/`, compiled into the binary (no build step,
//! nothing from a CDN). `GET /` fills the server's settings (the dial-in
//! text) into `index.html` as a JSON block that `app.js` reads.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::protocol::{PROTOCOL_VERSION, WS_PATH};
use super::state::AppState;

const INDEX_HTML: &str = include_str!("web/index.html");
const APP_JS: &str = include_str!("web/app.js");
const MESH_JS: &str = include_str!("web/mesh.js");
const STYLE_CSS: &str = include_str!("web/style.css");

/// Where `index.html` takes the settings JSON.
const CONFIG_PLACEHOLDER: &str = "__DIALBRIDGE_CONFIG__";

/// Pages change with the binary; let browsers revalidate instead of running stale code.
const CACHE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-cache");
const NOSNIFF: (header::HeaderName, &str) = (header::X_CONTENT_TYPE_OPTIONS, "nosniff");

/// `index.html` with the settings filled in.
pub fn render_index(dial_in: &str) -> String {
    let config = serde_json::json!({
        "dial_in": dial_in,
        "ws_path": WS_PATH,
        "version": PROTOCOL_VERSION,
    });
    INDEX_HTML.replacen(CONFIG_PLACEHOLDER, &script_safe_json(&config), 1)
}

/// JSON that cannot end the `<script>` block it sits in: `<`, `>` and `&` become `\u` escapes,
/// which JSON.parse reads back unchanged.
fn script_safe_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

pub(super) async fn index(State(app): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            CACHE,
            NOSNIFF,
        ],
        render_index(app.state.dial_in()),
    )
}

pub(super) async fn app_js() -> impl IntoResponse {
    javascript(APP_JS)
}

pub(super) async fn mesh_js() -> impl IntoResponse {
    javascript(MESH_JS)
}

fn javascript(source: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            CACHE,
            NOSNIFF,
        ],
        source,
    )
}

pub(super) async fn style_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            CACHE,
            NOSNIFF,
        ],
        STYLE_CSS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_carries_the_dial_in_text_safely() {
        let html = render_index("sip:dialin@bridge.example</script><b>&");
        assert!(!html.contains(CONFIG_PLACEHOLDER));
        assert!(!html.contains("</script><b>"));
        let start = html
            .find(r#"{"dial_in""#)
            .expect("the config JSON is in the page");
        let end = start + html[start..].find("</script>").unwrap();
        let config: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(config["dial_in"], "sip:dialin@bridge.example</script><b>&");
        assert_eq!(config["ws_path"], "/ws");
    }

    #[test]
    fn page_has_no_external_resources() {
        for text in [INDEX_HTML, APP_JS, MESH_JS, STYLE_CSS] {
            for outside in ["=\"http", "='http", "url(http", "@import", "//cdn"] {
                assert!(!text.contains(outside), "{outside}");
            }
        }
        assert!(INDEX_HTML.contains(r#"src="/app.js""#));
        assert!(APP_JS.contains("from '/mesh.js'"));
        assert!(INDEX_HTML.contains(r#"data-testid="participants""#));
    }
}
