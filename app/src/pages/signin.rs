//! Sign in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::session::{get_setup_state, SetupState, SignIn as SignInFn};
use crate::components::ui::{go_to, ErrorBanner, Field, Logo, SubmitButton};

/// A page on this site to go to after signing in (never another site). Browsers drop tabs and line
/// breaks anywhere in a URL, and control characters and spaces around it, before they parse it
/// (`/<TAB>/evil.example` is `//evil.example`), so the check runs on what the browser will parse: a
/// path on this origin, never a scheme, a host or a backslash (which browsers read as `/`).
fn safe_next(next: Option<String>) -> String {
    let parsed = next.map(|n| {
        let kept: String = n.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
        kept.trim_matches(|c: char| c <= ' ').to_string()
    });
    parsed
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .and_then(|n| same_origin(&n))
        .unwrap_or_else(|| "/".into())
}

/// In the browser: `path` parsed as a URL against this page's origin, if it keeps the origin (its
/// path, query and fragment). On the server the lexical check above is all there is.
fn same_origin(path: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let origin = window().location().origin().ok()?;
        let url = web_sys::Url::new_with_base(path, &origin).ok()?;
        (url.origin() == origin).then(|| format!("{}{}{}", url.pathname(), url.search(), url.hash()))
    }
    #[cfg(not(feature = "hydrate"))]
    Some(path.to_string())
}

#[component]
pub fn SignIn() -> impl IntoView {
    let action = ServerAction::<SignInFn>::new();
    let query = use_query_map();
    let setup = crate::codec::resource(|| (), |_| get_setup_state(String::new()));

    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            go_to(&safe_next(query.read_untracked().get("next")));
        }
    });

    let error = move || action.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| Signal::derive(move || error().and_then(|e| e.for_field(field)));
    let banner = move || {
        error()
            .filter(|e| e.field.is_none())
            .map(|e| view! { <ErrorBanner message=e.display() testid="signin-error" /> })
    };
    let setup_hint = move || {
        Suspend::new(async move {
            (setup.await.ok() != Some(SetupState::Done)).then(|| {
                view! {
                    <p class="rounded-lg border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950 dark:text-amber-200" data-testid="setup-hint">
                        "Berth has no admin yet. Open the one-time setup link that Berth printed when it started."
                    </p>
                }
            })
        })
    };

    view! {
        <Title text="Sign in · Berth" />
        <main class="grid min-h-screen place-items-center p-4">
            <div class="w-full max-w-sm space-y-6 rounded-2xl border border-slate-200 bg-white p-8 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <div class="space-y-2">
                    <Logo />
                    <h1 class="text-xl font-semibold">"Sign in"</h1>
                </div>
                <Transition fallback=|| ()>{setup_hint}</Transition>
                <ActionForm action=action>
                    <div class="space-y-3">
                        <Field label="Username" name="username" autocomplete="username" required=true autofocus=true error=field_error("username") />
                        <Field label="Password" name="password" kind="password" autocomplete="current-password" required=true error=field_error("password") />
                        {banner}
                        <SubmitButton label="Sign in" busy_label="Signing in…" busy=action.pending() />
                    </div>
                </ActionForm>
            </div>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        let cases = [
            (None, "/"),
            (Some("/"), "/"),
            (Some("/clusters?x=1"), "/clusters?x=1"),
            (Some("//evil.example/"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("javascript:alert(1)"), "/"),
            // Browsers strip tabs and line breaks before parsing: each of these is `//evil.example`.
            (Some("/\t/evil.example"), "/"),
            (Some("/\n/evil.example"), "/"),
            (Some("/\r\n/evil.example"), "/"),
            (Some("\t//evil.example"), "/"),
            (Some(" //evil.example"), "/"),
            (Some("\u{0}//evil.example"), "/"),
            (Some("/\t\\evil.example"), "/"),
            (Some("/%09/evil.example"), "/%09/evil.example"),
            (Some("  /apps  "), "/apps"),
            (Some("/cl\tusters"), "/clusters"),
        ];
        for (input, want) in cases {
            assert_eq!(safe_next(input.map(String::from)), want, "{input:?}");
        }
    }
}
