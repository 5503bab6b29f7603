//! Instants in the reader's local time once the page is live (UTC in the server-rendered HTML,
//! which cannot know the reader's zone), with the full timestamp on hover: `LocalTime` renders
//! one, and the island `LocalTimes`, once per page, rewrites them all in the browser.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// Marks the `<time>` elements [`LocalTimes`] rewrites.
const LOCAL: &str = "time[data-local]";

#[component]
pub fn LocalTime(at: DateTime<Utc>) -> impl IntoView {
    let utc = at.format("%Y-%m-%d %H:%M UTC").to_string();
    view! {
        <time datetime=at.to_rfc3339() title=at.to_rfc3339() data-local="">
            {utc}
        </time>
    }
}

/// Rewrites every [`LocalTime`] on the page in the reader's zone and locale: the short form as
/// text, the full one as its title. One island for the whole page, instead of one per instant.
#[island]
pub fn LocalTimes() -> impl IntoView {
    // Effects run only in the browser.
    Effect::new(move |_| browser::localize_all(LOCAL));
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::{
        prelude::*,
        wasm_bindgen::{JsCast, JsValue},
    };

    pub fn localize_all(selector: &str) {
        let Ok(found) = document().query_selector_all(selector) else {
            return;
        };
        for index in 0..found.length() {
            let Some(element) = found
                .item(index)
                .and_then(|node| node.dyn_into::<leptos::web_sys::Element>().ok())
            else {
                continue;
            };
            let Some(at) = element.get_attribute("datetime") else {
                continue;
            };
            if let Some((short, full)) = local(&at) {
                element.set_text_content(Some(&short));
                let _ = element.set_attribute("title", &full);
            }
        }
    }

    /// `at` (RFC 3339) in the reader's zone: the medium date with the short time, and the full
    /// date with the long time.
    fn local(at: &str) -> Option<(String, String)> {
        let date = js_sys::Date::new(&JsValue::from_str(at));
        if date.get_time().is_nan() {
            return None;
        }
        let format = |date_style: &str, time_style: &str| {
            let options = js_sys::Object::new();
            js_sys::Reflect::set(&options, &"dateStyle".into(), &date_style.into()).ok()?;
            js_sys::Reflect::set(&options, &"timeStyle".into(), &time_style.into()).ok()?;
            date.to_locale_string("default", &options).as_string()
        };
        Some((format("medium", "short")?, format("full", "long")?))
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    pub fn localize_all(_: &str) {}
}
