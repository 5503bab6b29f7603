//! The app's paths, named once: the router, links and redirects all use these.

use leptos_router::{ParamSegment, StaticSegment};
use uuid::Uuid;

/// The Data Exports page.
pub const EXPORTS_PAGE: &str = "/settings/exports";

/// [`EXPORTS_PAGE`] as the router matches it (a test checks that the two agree).
pub const EXPORTS_ROUTE: (StaticSegment<&str>, StaticSegment<&str>) =
    (StaticSegment("settings"), StaticSegment("exports"));

/// The accounting of disclosures: `/settings/exports/disclosures`.
pub const DISCLOSURES_PAGE: &str = "/settings/exports/disclosures";

/// [`DISCLOSURES_PAGE`] as the router matches it (before [`EXPORT_DETAILS_ROUTE`], whose
/// parameter would take it).
pub const DISCLOSURES_ROUTE: (StaticSegment<&str>, StaticSegment<&str>, StaticSegment<&str>) = (
    StaticSegment("settings"),
    StaticSegment("exports"),
    StaticSegment("disclosures"),
);

/// Why the Data Exports page points at a request: its row is highlighted and a notice says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Highlight {
    /// Just requested through New Export.
    Requested,
    /// Queued again by Run again.
    Queued,
    /// Run again found an identical request already waiting or in progress.
    AlreadyQueued,
}

impl Highlight {
    /// The flag after the id in the address (`&already=1`, `&requested=1`; none for Queued).
    const FLAGS: [(Highlight, &'static str); 2] = [
        (Highlight::AlreadyQueued, "already"),
        (Highlight::Requested, "requested"),
    ];

    /// Reads the reason from the address's flags (`flag` says whether one is set to `1`).
    pub fn from_flags(flag: impl Fn(&str) -> bool) -> Highlight {
        Self::FLAGS
            .into_iter()
            .find(|(_, name)| flag(name))
            .map_or(Highlight::Queued, |(why, _)| why)
    }
}

/// The Data Exports page pointing at request `id`: `/settings/exports?highlight={id}`, with the
/// reason's flag.
pub fn highlighted_export(id: Uuid, why: Highlight) -> String {
    let flag = Highlight::FLAGS
        .into_iter()
        .find(|(reason, _)| *reason == why)
        .map(|(_, name)| format!("&{name}=1"))
        .unwrap_or_default();
    format!("{EXPORTS_PAGE}?highlight={id}{flag}")
}

/// One export request's details: `/settings/exports/{id}`.
pub fn export_details_page(id: Uuid) -> String {
    format!("{EXPORTS_PAGE}/{id}")
}

/// [`export_details_page`] as the router matches it; the parameter is `id`.
pub const EXPORT_DETAILS_ROUTE: (StaticSegment<&str>, StaticSegment<&str>, ParamSegment) = (
    StaticSegment("settings"),
    StaticSegment("exports"),
    ParamSegment("id"),
);

/// Where the Download form posts (it answers 303 to a freshly signed link):
/// `/settings/exports/{id}/download`.
pub fn export_download_action(id: Uuid) -> String {
    format!("{EXPORTS_PAGE}/{id}/download")
}

/// The page that confirms deleting an export without JavaScript: `/settings/exports/{id}/delete`.
pub fn export_delete_page(id: Uuid) -> String {
    format!("{EXPORTS_PAGE}/{id}/delete")
}

/// The page that confirms cancelling an export without JavaScript: `/settings/exports/{id}/cancel`.
pub fn export_cancel_page(id: Uuid) -> String {
    format!("{EXPORTS_PAGE}/{id}/cancel")
}

/// [`export_delete_page`] and [`export_cancel_page`] as the router matches them.
pub const EXPORT_DELETE_ROUTE: (
    StaticSegment<&str>,
    StaticSegment<&str>,
    ParamSegment,
    StaticSegment<&str>,
) = (
    StaticSegment("settings"),
    StaticSegment("exports"),
    ParamSegment("id"),
    StaticSegment("delete"),
);
pub const EXPORT_CANCEL_ROUTE: (
    StaticSegment<&str>,
    StaticSegment<&str>,
    ParamSegment,
    StaticSegment<&str>,
) = (
    StaticSegment("settings"),
    StaticSegment("exports"),
    ParamSegment("id"),
    StaticSegment("cancel"),
);

/// The sign-in page.
pub const LOGIN_PAGE: &str = "/login";

/// [`LOGIN_PAGE`] as the router matches it.
pub const LOGIN_ROUTE: StaticSegment<&str> = StaticSegment("login");

#[cfg(test)]
mod tests {
    use leptos_router::PossibleRouteMatch;

    use super::*;

    #[test]
    fn a_highlighted_address_reads_back_as_its_reason() {
        let id = Uuid::nil();
        for why in [Highlight::Requested, Highlight::Queued, Highlight::AlreadyQueued] {
            let address = highlighted_export(id, why);
            let query = address
                .split_once('?')
                .map(|(_, query)| query)
                .unwrap_or_default();
            let read = Highlight::from_flags(|name| query.split('&').any(|pair| pair == format!("{name}=1")));
            assert_eq!(read, why, "{address}");
        }
        assert_eq!(
            highlighted_export(id, Highlight::Queued),
            "/settings/exports?highlight=00000000-0000-0000-0000-000000000000"
        );
    }

    /// The path the router registers for `route` (what the server answers at) and whether the
    /// route matches `path` exactly, neither more nor less.
    fn registers_and_matches_exactly(route: impl PossibleRouteMatch, path: &str) -> bool {
        let mut segments = Vec::new();
        route.generate_path(&mut segments);
        let registered: String = segments
            .iter()
            .map(|segment| format!("/{}", segment.as_raw_str()))
            .collect();
        let matched = route.test(path);
        registered == path && matched.is_some_and(|m| m.matched() == path && m.remaining().is_empty())
    }

    #[test]
    fn each_route_is_exactly_the_path_links_point_to() {
        assert!(registers_and_matches_exactly(EXPORTS_ROUTE, EXPORTS_PAGE));
        assert!(registers_and_matches_exactly(LOGIN_ROUTE, LOGIN_PAGE));
    }

    #[test]
    fn the_details_route_matches_the_details_links() {
        let link = export_details_page(Uuid::nil());
        let matched = EXPORT_DETAILS_ROUTE.test(&link).expect("matches");
        assert!(matched.remaining().is_empty());
        assert_eq!(matched.params()[0].1, Uuid::nil().to_string());
        assert!(EXPORT_DETAILS_ROUTE.test(EXPORTS_PAGE).is_none());
    }

    #[test]
    fn the_confirmation_routes_match_their_links_and_nothing_else() {
        let id = Uuid::nil();
        for (route, link) in [
            (EXPORT_DELETE_ROUTE, export_delete_page(id)),
            (EXPORT_CANCEL_ROUTE, export_cancel_page(id)),
        ] {
            let matched = route.test(&link).expect("matches");
            assert!(matched.remaining().is_empty());
            assert_eq!(matched.params()[0].1, id.to_string());
            assert!(route.test(&export_details_page(id)).is_none());
        }
        assert!(EXPORT_DELETE_ROUTE.test(&export_cancel_page(id)).is_none());
    }

    #[test]
    fn the_exports_route_matches_no_other_path() {
        for other in [
            "/settings",
            "/settings/exports2",
            "/settings/exports/1",
            "/exports",
        ] {
            assert!(
                EXPORTS_ROUTE
                    .test(other)
                    .is_none_or(|m| !m.remaining().is_empty()),
                "{other}"
            );
        }
    }
}
