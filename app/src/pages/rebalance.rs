//! The cluster page's Rebalance card: swarm never moves a running task, so after a node comes back
//! a service may run 3/3/0. **Check the spread** asks for the plan (a dry run) and shows each app
//! service's tasks per node now and in an even spread, with what would move; cluster admins
//! **Apply** it (after a confirmation that says how many tasks restart), which continues as a job
//! on its own page. The plan is fetched when asked for, not on the page's refresh, so it stays as
//! read while the person decides.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::api::rebalance::{get_rebalance, ApplyRebalance, RebalancePlanView, ServicePlanRow};
use crate::components::ui::{Card, ErrorBanner, BUTTON, PRIMARY};

#[component]
pub fn RebalanceCard(cluster: i64) -> impl IntoView {
    let asked = RwSignal::new(0u32);
    let confirming = RwSignal::new(false);
    let apply = ServerAction::<ApplyRebalance>::new();
    let plan = crate::codec::resource(
        move || asked.get(),
        move |n| async move {
            if n == 0 {
                Ok(None)
            } else {
                get_rebalance(cluster).await.map(Some)
            }
        },
    );
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(job)) = apply.value().get() {
            navigate(&format!("/jobs/{job}"), Default::default());
        }
    });
    let body = move || {
        Suspend::new(async move {
            match plan.await {
                Ok(None) => ().into_any(),
                Ok(Some(p)) => view! { <Plan p confirming apply cluster /> }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.display() testid="rebalance-error" /> }.into_any(),
            }
        })
    };
    view! {
        <Card title="Rebalance">
            <div class="space-y-3 text-sm" data-testid="rebalance">
                <p class="text-slate-500">
                    "Swarm places a task once and never moves it: after a node comes back or joins, services stay where they were. Check the spread to see each app service's tasks per node against an even spread over the nodes it may use; applying moves only the tasks named (the service grows by that many, then shrinks back), so the others keep running."
                </p>
                <button type="button" class=BUTTON data-testid="rebalance-check" on:click=move |_| {
                    confirming.set(false);
                    asked.update(|n| *n += 1);
                }>"Check the spread"</button>
                {move || apply.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner message=e.display() testid="rebalance-apply-error" /> })}
                <Transition fallback=|| view! { <p class="text-slate-500">"Reading the spread…"</p> }>{body}</Transition>
            </div>
        </Card>
    }
}

#[component]
fn Plan(
    p: RebalancePlanView,
    confirming: RwSignal<bool>,
    apply: ServerAction<ApplyRebalance>,
    cluster: i64,
) -> impl IntoView {
    let moving = p.tasks_to_move;
    let summary = match moving {
        0 => "Every app service is spread evenly: nothing to move.".to_string(),
        1 => "1 task would move.".to_string(),
        n => format!("{n} tasks would move."),
    };
    view! {
        <p class="font-medium" data-testid="rebalance-summary">{summary}</p>
        <ul class="divide-y divide-slate-100 dark:divide-slate-800">
            {p.services.into_iter().map(|s| view! { <ServiceLine s /> }).collect_view()}
        </ul>
        {(p.manage && moving > 0).then(|| view! {
            {move || if confirming.get() {
                view! {
                    <ActionForm action=apply>
                        <div role="alertdialog" aria-label="Apply the rebalance" class="flex flex-wrap items-center gap-3 rounded-xl border border-amber-200 bg-amber-50 p-3 dark:border-amber-900 dark:bg-amber-950">
                            <input type="hidden" name="cluster" value=cluster />
                            <span class="min-w-0 flex-1">{format!("Move {moving} task(s)? Each starts on its new node before the old one stops.")}</span>
                            <button type="submit" class=PRIMARY data-testid="rebalance-confirm">"Move them"</button>
                            <button type="button" class=BUTTON on:click=move |_| confirming.set(false)>"Cancel"</button>
                        </div>
                    </ActionForm>
                }.into_any()
            } else {
                view! { <button type="button" class=PRIMARY data-testid="rebalance-apply" on:click=move |_| confirming.set(true)>"Apply"</button> }.into_any()
            }}
        })}
    }
}

#[component]
fn ServiceLine(s: ServicePlanRow) -> impl IntoView {
    let spread = s
        .spread
        .iter()
        .map(|n| {
            if n.now == n.target {
                format!("{} {}", n.node, n.now)
            } else {
                format!("{} {} → {}", n.node, n.now, n.target)
            }
        })
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <li class="py-2" data-testid="rebalance-service" data-service=s.service.clone() data-moves=s.tasks_to_move>
            <div class="flex flex-wrap items-baseline gap-x-3">
                <span class="font-medium">{s.service.clone()}</span>
                <span class="text-slate-500">{format!("{} replicas", s.replicas)}</span>
                {(!spread.is_empty()).then(|| view! { <span class="font-mono text-xs">{spread.clone()}</span> })}
            </div>
            {(!s.skipped.is_empty()).then(|| view! { <p class="text-slate-500">{format!("Left alone: {}", s.skipped)}</p> })}
            {s.moves.into_iter().map(|m| view! { <p data-testid="rebalance-move">{m}</p> }).collect_view()}
        </li>
    }
}
