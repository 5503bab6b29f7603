//! An instant shown in the reader's local time once the page is live (UTC in the server-rendered
//! HTML, which cannot know the reader's zone), with the full timestamp on hover.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

#[component]
pub fn LocalTime(at: DateTime<Utc>) -> impl IntoView {
    let utc = at.format("%Y-%m-%d %H:%M UTC").to_string();
    let (text, set_text) = signal(utc.clone());
    let (title, set_title) = signal(at.to_rfc3339());
    // Effects run only in the browser: swap in the local rendering after hydration.
    Effect::new(move |_| {
        if let Some((short, full)) = local(at) {
            set_text.set(short);
            set_title.set(full);
        }
    });
    view! { <time datetime=at.to_rfc3339() title=title>{text}</time> }
}

#[cfg(feature = "hydrate")]
fn local(at: DateTime<Utc>) -> Option<(String, String)> {
    use wasm_bindgen::JsValue;
    let date = js_sys::Date::new(&JsValue::from_f64(at.timestamp_millis() as f64));
    let short_options = js_sys::Object::new();
    for (key, value) in [("dateStyle", "medium"), ("timeStyle", "short")] {
        js_sys::Reflect::set(&short_options, &key.into(), &value.into()).ok()?;
    }
    let full_options = js_sys::Object::new();
    for (key, value) in [("dateStyle", "full"), ("timeStyle", "long")] {
        js_sys::Reflect::set(&full_options, &key.into(), &value.into()).ok()?;
    }
    let short = date.to_locale_string("default", &short_options).as_string()?;
    let full = date.to_locale_string("default", &full_options).as_string()?;
    Some((short, full))
}

#[cfg(not(feature = "hydrate"))]
fn local(_: DateTime<Utc>) -> Option<(String, String)> {
    None
}
