//! The app's paths, named once: the router, links and redirects all use these.

use leptos_router::StaticSegment;

/// The Data Exports page.
pub const EXPORTS_PAGE: &str = "/settings/exports";

/// [`EXPORTS_PAGE`] as the router matches it (a test checks that the two agree).
pub const EXPORTS_ROUTE: (StaticSegment<&str>, StaticSegment<&str>) =
    (StaticSegment("settings"), StaticSegment("exports"));

/// The sign-in page.
pub const LOGIN_PAGE: &str = "/login";

/// [`LOGIN_PAGE`] as the router matches it.
pub const LOGIN_ROUTE: StaticSegment<&str> = StaticSegment("login");

#[cfg(test)]
mod tests {
    use leptos_router::PossibleRouteMatch;

    use super::*;

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
