//! Installation settings: the quotas.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::cluster::{get_quotas, SetQuotas};
use crate::components::ui::{go_to, Card, ErrorBanner, PageHeader, INPUT, PRIMARY};

#[component]
pub fn Settings() -> impl IntoView {
    let save = ServerAction::<SetQuotas>::new();
    let quotas = Resource::new(move || save.version().get(), |_| get_quotas());
    // Everyone may read the quotas; only admins see the button that changes them.
    let user = crate::components::layout::use_user();
    let error = move || save.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| move || error().and_then(|e| e.for_field(field));
    let form = move || {
        Suspend::new(async move {
            let admin = matches!(user.await, Ok(Some(u)) if u.admin);
            match quotas.await {
                Ok(q) => view! {
                    <ActionForm action=save>
                        <div class="grid gap-4 sm:grid-cols-2">
                            <label class="block space-y-1">
                                <span class="text-sm font-medium">"Clusters per installation"</span>
                                <input name="max_clusters" type="number" min="0" class=INPUT value=q.max_clusters data-testid="max-clusters" />
                                <span class="block text-xs text-red-600">{field_error("max_clusters")}</span>
                            </label>
                            <label class="block space-y-1">
                                <span class="text-sm font-medium">"Nodes per cluster"</span>
                                <input name="max_nodes_per_cluster" type="number" min="1" class=INPUT value=q.max_nodes_per_cluster data-testid="max-nodes" />
                                <span class="block text-xs text-red-600">{field_error("max_nodes_per_cluster")}</span>
                            </label>
                        </div>
                        <div class="mt-4 flex items-center gap-3">
                            {if admin {
                                view! { <button type="submit" class=PRIMARY data-testid="save-quotas">"Save"</button> }.into_any()
                            } else {
                                view! { <span class="text-sm text-slate-500" data-testid="quotas-read-only">"Only admins change the quotas."</span> }.into_any()
                            }}
                            {move || matches!(save.value().get(), Some(Ok(()))).then(|| view! { <span class="text-sm text-emerald-700" data-testid="saved">"Saved"</span> })}
                        </div>
                    </ActionForm>
                }
                .into_any(),
                Err(e) => {
                    if e.code == "unauthenticated" {
                        go_to("/signin");
                    }
                    view! { <ErrorBanner message=e.display() /> }.into_any()
                }
            }
        })
    };
    view! {
        <Title text="Settings · Berth" />
        <div class="mx-auto max-w-3xl space-y-6">
            <PageHeader title="Settings" subtitle="Limits for this installation." />
            {move || error().filter(|e| e.field.is_none()).map(|e| view! { <ErrorBanner message=e.display() /> })}
            <Card title="Quotas">
                <Transition fallback=|| ()>{form}</Transition>
            </Card>
        </div>
    }
}
