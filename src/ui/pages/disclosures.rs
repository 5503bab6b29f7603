//! The accounting of disclosures at `/settings/exports/disclosures`: find a client by record
//! number or name, then every export that carried their records in a period (by default the
//! last six years), newest first, a page at a time, and the whole of it as CSV or as a letter.
//! Plain GET links and forms throughout, rendered on the server: it needs no JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

use crate::{
    api::disclosures::{client_disclosures, find_disclosure_clients},
    auth::model::Permission,
    disclosures::model::{Accounting, ClientMatch, DisclosureRow},
    routes,
    ui::components::{
        error_message::{ErrorMessage, ErrorPlace},
        permission_gate::PermissionGate,
    },
};

#[component]
pub fn DisclosuresPage() -> impl IntoView {
    view! {
        <Title text="Accounting of disclosures" />
        // Fetched inside the gate: a user without the permission is sent nothing.
        <PermissionGate permission=Permission::ViewDisclosures>
            <DisclosuresView />
        </PermissionGate>
    }
}

/// What the address asks for: a search (`?q=`), or a client's accounting (`?client=ID`, with
/// `from`, `to` and `page`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Asked {
    query: Option<String>,
    client: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<usize>,
}

fn asked_in_address() -> Memo<Asked> {
    let query = use_query_map();
    Memo::new(move |_| {
        let query = query.read();
        let text = |name: &str| query.get(name).filter(|value| !value.trim().is_empty());
        Asked {
            query: text("q"),
            client: text("client"),
            from: text("from"),
            to: text("to"),
            page: text("page").and_then(|page| page.parse().ok()),
        }
    })
}

#[component]
fn DisclosuresView() -> impl IntoView {
    let asked = asked_in_address();
    let matches = Resource::new(
        move || asked.get().query,
        |query| async move {
            match query {
                Some(query) => find_disclosure_clients(query).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let accounting = Resource::new(
        move || asked.get(),
        |asked| async move {
            let Some(client) = asked.client else {
                return Ok(None);
            };
            let client = client
                .parse::<Uuid>()
                .map_err(|_| crate::error::AppError::NotFound)?;
            client_disclosures(client, asked.from, asked.to, asked.page)
                .await
                .map(Some)
        },
    );
    let query = move || asked.get().query.unwrap_or_default();
    view! {
        <section class="page disclosures">
            <p class="back">
                <a href=routes::EXPORTS_PAGE>"← Data Exports"</a>
            </p>
            <div class="page-header">
                <div>
                    <h1>"Accounting of disclosures"</h1>
                    <p class="subtitle">
                        "Every export that carried a client's records: when, to whom, why and at whose request. Kept for six years."
                    </p>
                </div>
            </div>
            <form method="get" class="client-search" role="search">
                <label for="client-query">"Record number or name"</label>
                <input id="client-query" type="search" name="q" maxlength="100" value=query autocomplete="off" />
                <button type="submit" class="btn btn-primary">"Find client"</button>
            </form>
            <Transition fallback=|| view! { <p class="loading">"Searching…"</p> }>
                {move || Suspend::new(async move {
                    match matches.await {
                        Ok(Some(found)) => view! { <Matches found /> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(error) => view! { <ErrorMessage message=error.to_string() /> }.into_any(),
                    }
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match accounting.await {
                        Ok(Some(accounting)) => view! { <ClientAccounting accounting /> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(error) => {
                            view! { <ErrorMessage place=ErrorPlace::Section message=error.to_string() /> }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// The clients a search found, each a link to their accounting.
#[component]
fn Matches(found: Vec<ClientMatch>) -> impl IntoView {
    if found.is_empty() {
        return view! { <p class="table-state">"No client has that record number or name."</p> }.into_any();
    }
    view! {
        <ul class="client-matches">
            {found
                .into_iter()
                .map(|client| {
                    let href = format!("{}?client={}", routes::DISCLOSURES_PAGE, client.id);
                    view! {
                        <li>
                            <a href=href>{client.name}</a>
                            <span class="record-number">{client.record_number}</span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// One client's accounting: who, the period (a form to change it), the table, the pager and
/// the files.
#[component]
fn ClientAccounting(accounting: Accounting) -> impl IntoView {
    let Accounting {
        client,
        period,
        time_zone,
        items,
        total,
        page,
        pages,
    } = accounting;
    let id = client.id.to_string();
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let summary = match total {
        0 => "No export carried this client's records in this period.".to_owned(),
        1 => "1 export carried this client's records in this period.".to_owned(),
        n => format!("{n} exports carried this client's records in this period."),
    };
    let address = {
        let (id, from, to) = (id.clone(), from.clone(), to.clone());
        move |page: usize| {
            format!(
                "{}?client={id}&from={from}&to={to}&page={page}",
                routes::DISCLOSURES_PAGE
            )
        }
    };
    view! {
        <div class="accounting">
            <h2>
                {client.name} " " <span class="record-number">{client.record_number}</span>
            </h2>
            <form method="get" class="period-form">
                <input type="hidden" name="client" value=id.clone() />
                <label for="period-from">"From"</label>
                <input id="period-from" type="date" name="from" value=from.clone() />
                <label for="period-to">"To"</label>
                <input id="period-to" type="date" name="to" value=to.clone() />
                <button type="submit" class="btn btn-secondary">"Show"</button>
                <span class="choice-help">{format!("Days in {time_zone}, both included.")}</span>
            </form>
            <p class="summary" role="status">{summary}</p>
            {(!items.is_empty()).then(|| view! { <DisclosuresTable items /> })}
            {(pages > 1)
                .then(|| {
                    view! {
                        <nav class="pager" aria-label="Pages">
                            <span>{format!("Page {page} of {pages}")}</span>
                            {(page > 1).then(|| view! { <a class="btn btn-secondary btn-small" href=address(page - 1)>"Newer"</a> })}
                            {(page < pages).then(|| view! { <a class="btn btn-secondary btn-small" href=address(page + 1)>"Older"</a> })}
                        </nav>
                    }
                })}
            <div class="accounting-files">
                <FileForm id=id.clone() from=from.clone() to=to.clone() format="csv" label="Download CSV" />
                <FileForm id from to format="letter" label="Download letter" />
            </div>
        </div>
    }
}

/// A form that posts to the file's server function in a new tab; its answer is a 303 to a
/// freshly signed link.
#[component]
fn FileForm(
    id: String,
    from: String,
    to: String,
    format: &'static str,
    label: &'static str,
) -> impl IntoView {
    view! {
        <form method="post" action="/api/disclosure_accounting" target="_blank" class="inline-form">
            <input type="hidden" name="client" value=id />
            <input type="hidden" name="format" value=format />
            <input type="hidden" name="from" value=from />
            <input type="hidden" name="to" value=to />
            <button type="submit" class="btn btn-secondary">{label}</button>
        </form>
    }
}

/// The disclosures of this page, newest first.
#[component]
fn DisclosuresTable(items: Vec<DisclosureRow>) -> impl IntoView {
    const COLUMNS: [&str; 5] = [
        "Completed",
        "Recipient",
        "Purpose",
        "What was disclosed",
        "Requested by",
    ];
    let [completed, recipient, purpose, what, by] = COLUMNS;
    view! {
        <div class="table-wrap">
            <table class="data-table disclosures-table">
                <thead>
                    <tr>{COLUMNS.map(|column| view! { <th scope="col">{column}</th> })}</tr>
                </thead>
                <tbody>
                    {items
                        .into_iter()
                        .map(|row| {
                            let description = row.description();
                            view! {
                                <tr>
                                    <td data-label=completed>{row.completed_label}</td>
                                    <td data-label=recipient>{row.recipient.unwrap_or_else(|| "—".into())}</td>
                                    <td data-label=purpose>{row.purpose.unwrap_or_else(|| "—".into())}</td>
                                    <td data-label=what>{description}</td>
                                    <td data-label=by>{row.requested_by.unwrap_or_else(|| "—".into())}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
