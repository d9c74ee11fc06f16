//! The console around every signed-in page: top bar (brand, theme, user, sign out), side navigation
//! listing the pages that exist, and the page itself.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

use super::theme::ThemeToggle;
use super::ui::{go_to, icons, Icon, Logo, ToastRegion, Toasts};
use crate::api::session::{get_current_user, CurrentUser, SignOut};
use crate::error::AppError;

/// The signed-in user, loaded once by the console and shared with its pages (context).
pub type UserResource = crate::codec::Res<Result<Option<CurrentUser>, AppError>>;

/// The console's signed-in user; pages inside the console read it instead of asking again.
pub fn use_user() -> UserResource {
    use_context::<UserResource>().unwrap_or_else(|| crate::codec::resource(|| (), |_| get_current_user()))
}

/// The pages in the side navigation: (path, label, icon, admins only).
const NAV: &[(&str, &str, &str, bool)] = &[
    ("/", "Overview", icons::HOME, false),
    ("/clusters", "Clusters", icons::CLUSTERS, false),
    ("/apps", "Apps", icons::APPS, false),
    ("/templates", "Templates", icons::TEMPLATES, false),
    ("/history", "History", icons::HISTORY, false),
    ("/users", "Users", icons::USERS, true),
    ("/account", "Account", icons::ACCOUNT, false),
    ("/settings", "Settings", icons::SETTINGS, true),
];

#[component]
pub fn Console() -> impl IntoView {
    let user: UserResource = crate::codec::resource(|| (), |_| get_current_user());
    provide_context(user);
    let toasts = Toasts::provide();
    let sign_out = ServerAction::<SignOut>::new();
    let menu_open = RwSignal::new(false);

    // After signing out (or if the session is gone), reload at the sign-in page.
    Effect::new(move |_| {
        if sign_out.value().get().is_some() {
            go_to("/signin");
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(None)) = user.get() {
            go_to("/signin");
        }
    });

    let user_name = move || {
        Suspend::new(async move {
            match user.await {
                Ok(Some(u)) => view! {
                    <span class="hidden text-sm sm:inline" data-testid="current-user" title=u.username.clone()>
                        {u.display_name}
                    </span>
                }
                .into_any(),
                _ => ().into_any(),
            }
        })
    };

    // Escape closes the narrow menu.
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" && menu_open.get_untracked() {
            menu_open.set(false);
        }
    });
    on_cleanup(move || escape.remove());

    view! {
        <div class="flex min-h-screen flex-col">
            <a href="#main" data-testid="skip-link"
                on:click=move |ev| {
                    // The router would treat the link as a navigation: move the focus instead.
                    ev.prevent_default();
                    if let Some(main) = document().get_element_by_id("main") {
                        use leptos::wasm_bindgen::JsCast;
                        if let Ok(main) = main.dyn_into::<web_sys::HtmlElement>() {
                            let _ = main.focus();
                        }
                    }
                }
                class="sr-only z-50 rounded-md bg-sky-700 px-3 py-2 text-sm font-semibold text-white focus:not-sr-only focus:fixed focus:left-2 focus:top-2">
                "Skip to content"
            </a>
            <header class="sticky top-0 z-20 flex h-14 items-center gap-3 border-b border-slate-200 bg-white/90 px-4 backdrop-blur dark:border-slate-800 dark:bg-slate-900/90">
                <button
                    type="button"
                    class="rounded-md p-2 text-slate-500 hover:bg-slate-100 md:hidden dark:hover:bg-slate-800"
                    aria-label="Menu"
                    aria-controls="main-nav"
                    aria-expanded=move || menu_open.get().to_string()
                    data-testid="menu"
                    on:click=move |_| menu_open.update(|o| *o = !*o)
                >
                    <Icon path=icons::MENU />
                </button>
                <a href="/" class="text-slate-900 dark:text-white">
                    <Logo />
                </a>
                <div class="ml-auto flex items-center gap-2">
                    <FiringBadge />
                    <ThemeToggle />
                    <Transition fallback=|| ()>{user_name}</Transition>
                    <ActionForm action=sign_out>
                        <button
                            type="submit"
                            data-testid="sign-out"
                            class="inline-flex items-center gap-1 rounded-md px-3 py-2 text-sm text-slate-600 hover:bg-slate-100 hover:text-slate-900 dark:text-slate-300 dark:hover:bg-slate-800 dark:hover:text-white"
                        >
                            <Icon path=icons::SIGN_OUT class="h-4 w-4" />
                            <span>"Sign out"</span>
                        </button>
                    </ActionForm>
                </div>
            </header>
            <div class="flex flex-1">
                {move || menu_open.get().then(|| view! {
                    <div class="fixed inset-0 top-14 z-10 bg-slate-900/40 md:hidden" data-testid="menu-backdrop" aria-hidden="true"
                        on:click=move |_| menu_open.set(false)></div>
                })}
                <nav
                    id="main-nav"
                    aria-label="Main"
                    class=move || {
                        // On small screens the menu opens over the page; from `md` up it is a column.
                        let shown = if menu_open.get() { "fixed inset-y-0 top-14 left-0 z-20 block shadow-lg" } else { "hidden" };
                        format!("{shown} w-56 shrink-0 border-r border-slate-200 bg-white p-3 md:static md:block md:shadow-none dark:border-slate-800 dark:bg-slate-900")
                    }
                    on:click=move |_| menu_open.set(false)
                >
                    <Transition fallback=|| ()>{move || Suspend::new(async move {
                    let admin = matches!(user.await, Ok(Some(u)) if u.admin);
                    view! {
                    <ul class="space-y-1">
                        {NAV
                            .iter()
                            .filter(move |item| admin || !item.3)
                            .map(|(href, label, icon, _)| {
                                view! {
                                    <li>
                                        <A
                                            href=*href
                                            attr:class="flex items-center gap-3 rounded-md px-3 py-2 text-sm font-medium text-slate-600 hover:bg-slate-100 hover:text-slate-900 aria-[current=page]:bg-sky-50 aria-[current=page]:text-sky-700 dark:text-slate-300 dark:hover:bg-slate-800 dark:aria-[current=page]:bg-sky-950 dark:aria-[current=page]:text-sky-300"
                                        >
                                            <Icon path=icon />
                                            <span>{*label}</span>
                                        </A>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                    }
                    })}</Transition>
                </nav>
                <main id="main" tabindex="-1" class="min-w-0 flex-1 p-4 outline-none sm:p-6 lg:p-8">
                    // One content width and left edge for every page; a narrow page (a form) keeps
                    // the left edge and ends sooner.
                    <div class="mx-auto max-w-6xl">
                        <Outlet />
                    </div>
                    <ToastRegion toasts />
                </main>
            </div>
        </div>
    }
}

/// "2 firing" in the top bar while alerts fire on the user's clusters: a link to them on the
/// overview. Asked in the browser only, every 15 s.
#[component]
fn FiringBadge() -> impl IntoView {
    let tick = super::ui::ticker(std::time::Duration::from_secs(15));
    let firing = LocalResource::new(move || {
        tick.get();
        crate::api::observe::get_firing()
    });
    move || {
        let n = firing.get().and_then(Result::ok).map_or(0, |l| l.len());
        (n > 0).then(|| view! {
            <a href="/#firing" data-testid="firing-badge" title="Alerts firing now"
                class="inline-flex items-center gap-1 rounded-full bg-red-700 px-2.5 py-1 text-xs font-semibold text-white hover:bg-red-800">
                <Icon path=icons::ALERT class="h-3.5 w-3.5" />
                {format!("{n} firing")}
            </a>
        })
    }
}
