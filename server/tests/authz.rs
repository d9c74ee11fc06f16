//! The authorization matrix (SECURITY.md S1): every registered server function and REST route ×
//! {anonymous, viewer, operator, cluster admin, admin} × {the cluster the roles are granted on, another
//! cluster} → the expected outcome, over HTTP against a real server and database. A coverage test fails
//! when a server function or route has no row, so new ones cannot skip the matrix.
//!
//! Arguments are chosen so that an allowed call stops after authorization without changing the
//! fixture (a missing id, an invalid value, a node whose engine is not there); the one destructive row,
//! deleting a cluster, runs last.

mod support;

use std::collections::BTreeSet;

use domain::cluster::NewCluster;
use domain::node::NewNode;
use domain::store::NewJob;
use reqwest::StatusCode;
use serde_json::Value;
use support::*;

/// Who may call a row, by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// Anyone, signed in or not: every actor gets the same answer.
    Public,
    /// Any signed-in user.
    AnyUser,
    /// Viewer and up on the cluster.
    Read,
    /// Operator and up on the cluster.
    Operate,
    /// Cluster admin and up on the cluster.
    Manage,
    /// Admins only.
    Admin,
}

/// The actors, weakest first; the admin goes last so that its allowed destructive calls come after
/// everyone else's refused ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Viewer,
    Operator,
    ClusterAdmin,
    Admin,
}

impl Rule {
    /// Whether `who` may, on the cluster the roles are granted on (`granted`) or another.
    fn allows(self, who: Who, granted: bool) -> bool {
        match (self, who) {
            (Rule::Public, _) => true,
            (_, Who::Anonymous) => false,
            (_, Who::Admin) => true,
            (Rule::AnyUser, _) => true,
            (Rule::Admin, _) => false,
            (Rule::Read, _) => granted,
            (Rule::Operate, Who::Operator | Who::ClusterAdmin) => granted,
            (Rule::Operate, _) => false,
            (Rule::Manage, Who::ClusterAdmin) => granted,
            (Rule::Manage, _) => false,
        }
    }
}

/// What a row's arguments may refer to.
struct Ids {
    cluster: i64,
    node: i64,
    job: i64,
    share: i64,
    /// An app on the cluster.
    app: i64,
    /// The calling user (1 for anonymous).
    me: i64,
}

type Args = fn(&Ids) -> Vec<(&'static str, String)>;

/// One server function with arguments and the rule it must follow.
struct Row {
    function: &'static str,
    rule: Rule,
    args: Args,
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

/// A list's first page, unsorted.
fn list_args() -> Vec<(&'static str, String)> {
    vec![("q", s("")), ("sort", s("")), ("desc", s("false")), ("page", s(1))]
}

fn rows() -> Vec<Row> {
    use Rule::*;
    let row = |function, rule, args: Args| Row { function, rule, args };
    vec![
        row("get_current_user", Public, |_| vec![]),
        row("get_setup_state", Public, |_| vec![("token", s(""))]),
        row("create_first_admin", Public, |_| {
            vec![
                ("token", s("x")),
                ("username", s("eve")),
                ("display_name", s("")),
                ("password", s("p")),
                ("confirm_password", s("p")),
            ]
        }),
        row("sign_in", Public, |_| vec![("username", s("nobody")), ("password", s("wrong password"))]),
        row("get_invite", Public, |_| vec![("token", s("x"))]),
        row("accept_invite", Public, |_| vec![("token", s("x")), ("password", s("p")), ("confirm_password", s("p"))]),
        row("get_shared_dashboard", Public, |_| vec![("token", s("x"))]),
        row("get_engine_overview", Admin, |_| vec![]),
        row("get_clusters", AnyUser, |_| vec![]),
        row("list_clusters", AnyUser, |_| list_args()),
        row("list_apps", AnyUser, |_| list_args()),
        row("list_templates", AnyUser, |_| list_args()),
        row("get_firing", AnyUser, |_| vec![]),
        row("get_quotas", AnyUser, |_| vec![]),
        row("get_account", AnyUser, |_| vec![]),
        row("change_password", AnyUser, |_| {
            vec![("current_password", s("not it at all")), ("password", s("x")), ("confirm_password", s("x"))]
        }),
        row("revoke_session", AnyUser, |i| vec![("user", s(i.me)), ("session", s("no-such-session"))]),
        row("revoke_session", Admin, |_| vec![("user", s(1)), ("session", s("no-such-session"))]),
        row("create_token", AnyUser, |_| {
            vec![("name", s("t")), ("role", s("viewer")), ("cluster", s("all")), ("days", s("0"))]
        }),
        row("revoke_token", Admin, |_| vec![("id", s(999_999))]),
        row("get_cluster", Read, |i| vec![("id", s(i.cluster))]),
        row("get_workload_policy", Read, |i| vec![("cluster", s(i.cluster))]),
        row("set_workload_policy", Manage, |i| vec![("cluster", s(i.cluster)), ("paths", s("")), ("networks", s(""))]),
        row("get_routing", Read, |i| vec![("cluster", s(i.cluster))]),
        row("get_traffic", Read, |i| vec![("cluster", s(i.cluster)), ("app", s("")), ("range", s("3600000"))]),
        row("set_routing", Manage, |i| vec![("cluster", s(i.cluster)), ("root_domain", s(""))]),
        row("upload_certificate", Manage, |i| vec![("cluster", s(i.cluster)), ("certificate", s("")), ("key", s(""))]),
        row("create_load_balancer", Manage, |i| vec![("cluster", s(i.cluster)), ("name", s("Bad Name"))]),
        row("delete_load_balancer", Manage, |i| vec![("cluster", s(i.cluster)), ("name", s("nope"))]),
        row("delete_certificate", Manage, |i| vec![("cluster", s(i.cluster)), ("id", s("1"))]),
        row("get_job", Read, |i| vec![("id", s(i.job))]),
        row("get_node", Read, |i| [vec![("cluster", s(i.cluster)), ("node", s(i.node))], list_args()].concat()),
        row("list_nodes", Read, |i| [vec![("cluster", s(i.cluster))], list_args()].concat()),
        row("drain_warning", Read, |i| vec![("cluster", s(i.cluster)), ("nodes", s(i.node))]),
        row("drain_nodes", Manage, |i| vec![("cluster", s(i.cluster)), ("nodes", s(i.node))]),
        row("rename_cluster", Manage, |i| vec![("id", s(i.cluster)), ("name", s(""))]),
        row("set_node_availability", Manage, |i| {
            vec![("cluster", s(i.cluster)), ("node", s(i.node)), ("availability", s("drain"))]
        }),
        row("set_node_role", Manage, |i| vec![("cluster", s(i.cluster)), ("node", s(i.node)), ("role", s("manager"))]),
        row("set_node_labels", Manage, |i| {
            vec![("cluster", s(i.cluster)), ("node", s(i.node)), ("zone", s("z")), ("labels", s(""))]
        }),
        row("add_nodes", Manage, |i| vec![("cluster", s(i.cluster)), ("count", s("0"))]),
        row("remove_node", Manage, |i| vec![("cluster", s(i.cluster)), ("node", s(999_999))]),
        row("add_host", Manage, |i| vec![("cluster", s(i.cluster)), ("host", s(""))]),
        row("get_shares", Manage, |i| vec![("cluster", s(i.cluster))]),
        row("create_share", Manage, |i| vec![("cluster", s(i.cluster)), ("label", s("x")), ("hours", s("0"))]),
        row("revoke_share", Manage, |i| vec![("id", s(i.share))]),
        row("revoke_share", Admin, |_| vec![("id", s(999_999))]),
        row("create_cluster", Admin, |_| {
            vec![("name", s("")), ("nodes", s("1")), ("managers", s("1")), ("zones", s(""))]
        }),
        row("create_hosts_cluster", Admin, |_| {
            vec![("name", s("")), ("hosts", s("")), ("managers", s("1")), ("zones", s(""))]
        }),
        row("probe_hosts", Admin, |_| vec![("hosts", s("unix:///nonexistent/berth-matrix.sock"))]),
        row("prepare_host", Admin, |_| vec![("addresses", s("10.9.8.7"))]),
        row("set_quotas", Admin, |_| vec![("max_clusters", s("5")), ("max_nodes_per_cluster", s("20"))]),
        row("get_users", Admin, |_| vec![]),
        row("list_users", Admin, |_| list_args()),
        row("get_mail", Admin, |_| vec![]),
        row("set_mail", Admin, |_| {
            vec![
                ("host", s("")),
                ("port", s("")),
                ("security", s("none")),
                ("from", s("")),
                ("username", s("")),
                ("password", s("")),
            ]
        }),
        row("test_mail", Admin, |_| vec![("to", s("ops@example.com"))]),
        row("get_user", Admin, |_| vec![("id", s(1))]),
        row("create_user", Admin, |_| {
            vec![
                ("username", s("")),
                ("display_name", s("")),
                ("role", s("user")),
                ("password", s("")),
                ("confirm_password", s("")),
            ]
        }),
        row("set_user_disabled", Admin, |_| vec![("id", s(999_999)), ("disabled", s("true"))]),
        row("set_user_role", Admin, |_| vec![("id", s(999_999)), ("role", s("user"))]),
        row("delete_user", Admin, |_| vec![("id", s(999_999))]),
        row("reset_password", Admin, |_| vec![("id", s(999_999)), ("password", s(""))]),
        row("set_grant", Admin, |i| vec![("user", s(999_999)), ("cluster", s(i.cluster)), ("role", s("viewer"))]),
        row("revoke_grant", Admin, |_| vec![("id", s(999_999))]),
        row("get_apps", Read, |i| vec![("cluster", s(i.cluster))]),
        row("get_app", Read, |i| vec![("id", s(i.app))]),
        row("check_app", Read, |i| vec![("cluster", s(i.cluster)), ("compose", s("services: {}")), ("vars", s(""))]),
        row("app_diff", Read, |i| vec![("id", s(i.app)), ("from", s(1)), ("to", s(1))]),
        row("get_stacks", Read, |i| vec![("cluster", s(i.cluster))]),
        row("deploy_app", Operate, |i| {
            vec![("cluster", s(i.cluster)), ("name", s("")), ("compose", s("")), ("vars", s(""))]
        }),
        row("update_app", Operate, |i| vec![("id", s(i.app)), ("compose", s("")), ("vars", s("")), ("method", s(""))]),
        row("release_progressive", Operate, |i| {
            vec![
                ("id", s(i.app)),
                ("compose", s("")),
                ("vars", s("")),
                ("steps", s("")),
                ("interval", s("")),
                ("max_5xx", s("")),
                ("max_p99", s("")),
            ]
        }),
        row("set_release_weight", Operate, |i| vec![("id", s(i.app)), ("weight", s(50))]),
        row("confirm_release", Operate, |i| vec![("id", s(i.app))]),
        row("rollback_release", Operate, |i| vec![("id", s(i.app))]),
        row("preview_update", Operate, |i| vec![("id", s(i.app)), ("compose", s("services: {}")), ("vars", s(""))]),
        row("redeploy_app", Operate, |i| vec![("id", s(i.app))]),
        row("rollback_app", Operate, |i| vec![("id", s(i.app)), ("version", s(999))]),
        row("scale_service", Operate, |i| vec![("id", s(i.app)), ("service", s("nope")), ("replicas", s("1"))]),
        row("get_scaling", Read, |i| vec![("app", s(i.app))]),
        row("get_jobs", Read, |i| vec![("app", s(i.app))]),
        row("get_rebalance", Read, |i| vec![("cluster", s(i.cluster))]),
        row("apply_rebalance", Manage, |i| vec![("cluster", s(i.cluster))]),
        row("get_job_run", Read, |i| vec![("app", s(i.app)), ("run", s(999999))]),
        row("run_job", Operate, |i| vec![("app", s(i.app)), ("service", s("nope"))]),
        row("set_scaling", Operate, |i| {
            vec![
                ("app", s(i.app)),
                ("service", s("nope")),
                ("metric", s("cpu")),
                ("mode", s("target")),
                ("target", s("50")),
                ("window", s("")),
                ("lower", s("")),
                ("upper", s("")),
                ("step", s("")),
                ("hold", s("")),
                ("min", s("1")),
                ("max", s("3")),
                ("schedules", s("")),
            ]
        }),
        row("remove_scaling", Operate, |i| vec![("app", s(i.app)), ("service", s("nope"))]),
        row("resume_scaling", Operate, |i| vec![("app", s(i.app)), ("service", s("nope"))]),
        row("set_service_resources", Operate, |i| {
            vec![
                ("id", s(i.app)),
                ("service", s("nope")),
                ("limit_cpus", s("0.5")),
                ("limit_memory", s("")),
                ("reserve_cpus", s("")),
                ("reserve_memory", s("")),
            ]
        }),
        row("stop_app", Operate, |i| vec![("id", s(i.app))]),
        row("start_app", Operate, |i| vec![("id", s(i.app))]),
        row("delete_app", Operate, |i| vec![("id", s(i.app))]),
        row("get_triggers", Read, |i| vec![("app", s(i.app))]),
        row("create_trigger", Operate, |i| {
            vec![("app", s(i.app)), ("name", s("Bad Name")), ("action", s("redeploy")), ("auth", s("signature"))]
        }),
        row("rotate_trigger", Operate, |i| vec![("app", s(i.app)), ("trigger", s(999_999))]),
        row("revoke_trigger", Operate, |i| vec![("app", s(i.app)), ("trigger", s(999_999))]),
        row("adopt_stack", Operate, |i| vec![("cluster", s(i.cluster)), ("stack", s(""))]),
        row("get_templates", AnyUser, |_| vec![]),
        row("get_template", AnyUser, |_| vec![("id", s(999_999))]),
        row("check_template", AnyUser, |_| vec![("compose", s("services: {}"))]),
        row("save_template", Admin, |_| vec![("name", s("")), ("description", s("")), ("compose", s(""))]),
        row("delete_template", Admin, |_| vec![("id", s(999_999))]),
        row("get_history", AnyUser, |_| {
            vec![("q", s("")), ("actor", s("")), ("action", s("")), ("outcome", s("")), ("hours", s("0"))]
        }),
        row("history_csv", AnyUser, |_| {
            vec![("q", s("")), ("actor", s("")), ("action", s("")), ("outcome", s("")), ("hours", s("0"))]
        }),
        row("verify_history", Admin, |_| vec![]),
        row("get_logs", Read, |i| {
            vec![
                ("cluster", s(i.cluster)),
                ("app", s("")),
                ("service", s("")),
                ("container", s("")),
                ("q", s("")),
                ("limit", s("10")),
            ]
        }),
        row("logs_text", Read, |i| {
            vec![("cluster", s(i.cluster)), ("app", s("")), ("service", s("")), ("container", s("")), ("q", s(""))]
        }),
        row("search_logs", Read, |i| {
            vec![("cluster", s(i.cluster)), ("app", s("")), ("service", s("")), ("q", s("x")), ("hours", s("1"))]
        }),
        row("get_series", Read, |i| {
            vec![("cluster", s(i.cluster)), ("scope", s("cluster")), ("key", s("")), ("range", s("3600000"))]
        }),
        row("get_events", Read, |i| vec![("cluster", s(i.cluster)), ("app", s("")), ("severity", s("")), ("q", s(""))]),
        row("get_alerts", Read, |i| vec![("cluster", s(i.cluster))]),
        row("get_alert_subjects", Read, |i| vec![("cluster", s(i.cluster))]),
        row("create_alert_rule", Manage, |i| {
            vec![
                ("cluster", s(i.cluster)),
                ("name", s("")),
                ("kind", s("metric")),
                ("scope", s("cluster")),
                ("subject", s("")),
                ("metric", s("cpu")),
                ("threshold", s("80")),
                ("for_secs", s("0")),
                ("webhook", s("")),
            ]
        }),
        row("mute_alert_rule", Operate, |i| vec![("cluster", s(i.cluster)), ("id", s(999_999)), ("minutes", s(60))]),
        row("get_dashboard", Read, |i| vec![("cluster", s(i.cluster))]),
        row("delete_alert_rule", Manage, |i| vec![("cluster", s(i.cluster)), ("id", s(999_999))]),
        // Ends the caller's session: the harness signs them in again.
        row("sign_out", AnyUser, |_| vec![]),
        // Destructive when allowed: last.
        row("delete_cluster", Admin, |i| vec![("id", s(i.cluster))]),
    ]
}

/// REST routes: (method, path with `{id}`, rule).
const REST_ROWS: &[(&str, &str, Rule)] = &[
    ("GET", "/api/v1/openapi.json", Rule::Public),
    ("GET", "/api/v1/me", Rule::AnyUser),
    ("GET", "/api/v1/clusters", Rule::AnyUser),
    ("GET", "/api/v1/clusters/{id}", Rule::Read),
    ("GET", "/api/v1/clusters/{id}/nodes", Rule::Read),
    ("GET", "/api/v1/clusters/{id}/policy", Rule::Read),
    ("PUT", "/api/v1/clusters/{id}/policy", Rule::Manage),
    ("GET", "/api/v1/clusters/{id}/routing", Rule::Read),
    ("PUT", "/api/v1/clusters/{id}/routing", Rule::Manage),
    ("GET", "/api/v1/clusters/{id}/traffic", Rule::Read),
    ("POST", "/api/v1/clusters/{id}/certificates", Rule::Manage),
    ("DELETE", "/api/v1/clusters/{id}/certificates/{cert}", Rule::Manage),
    ("GET", "/api/v1/clusters/{id}/load-balancers", Rule::Read),
    ("POST", "/api/v1/clusters/{id}/load-balancers", Rule::Manage),
    ("DELETE", "/api/v1/clusters/{id}/load-balancers/{balancer}", Rule::Manage),
    ("GET", "/api/v1/clusters/{id}/rebalance", Rule::Read),
    ("POST", "/api/v1/clusters/{id}/rebalance", Rule::Manage),
    ("POST", "/api/v1/apps", Rule::Operate),
    ("GET", "/api/v1/apps/{id}", Rule::Read),
    ("DELETE", "/api/v1/apps/{id}", Rule::Operate),
    ("POST", "/api/v1/apps/{id}/update", Rule::Operate),
    ("POST", "/api/v1/apps/{id}/redeploy", Rule::Operate),
    ("GET", "/api/v1/apps/{id}/release", Rule::Read),
    ("PUT", "/api/v1/apps/{id}/release/weight", Rule::Operate),
    ("POST", "/api/v1/apps/{id}/release/confirm", Rule::Operate),
    ("POST", "/api/v1/apps/{id}/release/rollback", Rule::Operate),
    ("POST", "/api/v1/apps/{id}/services/{service}/scale", Rule::Operate),
    ("GET", "/api/v1/apps/{id}/scaling", Rule::Read),
    ("GET", "/api/v1/apps/{id}/jobs", Rule::Read),
    ("POST", "/api/v1/apps/{id}/services/{service}/run", Rule::Operate),
    ("GET", "/api/v1/apps/{id}/runs/{run}", Rule::Read),
    ("PUT", "/api/v1/apps/{id}/services/{service}/scaling", Rule::Operate),
    ("DELETE", "/api/v1/apps/{id}/services/{service}/scaling", Rule::Operate),
    ("POST", "/api/v1/apps/{id}/services/{service}/scaling/resume", Rule::Operate),
    ("GET", "/api/v1/apps/{id}/triggers", Rule::Read),
    ("POST", "/api/v1/apps/{id}/triggers", Rule::Operate),
    ("POST", "/api/v1/apps/{id}/triggers/{trigger}/rotate", Rule::Operate),
    ("DELETE", "/api/v1/apps/{id}/triggers/{trigger}", Rule::Operate),
    ("GET", "/api/v1/apps/{id}/triggers/{trigger}/calls", Rule::Read),
    ("GET", "/api/v1/jobs/{id}", Rule::Read),
    ("GET", "/api/v1/operations", Rule::AnyUser),
    ("GET", "/api/v1/operations/verify", Rule::Admin),
    ("GET", "/api/v1/clusters/{id}/logs", Rule::Read),
    ("GET", "/api/v1/clusters/{id}/metrics", Rule::Read),
    ("GET", "/api/v1/clusters/{id}/events", Rule::Read),
    ("GET", "/api/v1/clusters/{id}/alerts", Rule::Read),
    ("POST", "/api/v1/clusters/{id}/alerts", Rule::Manage),
    ("DELETE", "/api/v1/clusters/{id}/alerts/{rule}", Rule::Manage),
    ("GET", "/metrics", Rule::AnyUser),
];

/// The URL and JSON body of a REST row on one cluster (`{id}` is the cluster, its app or its job).
fn rest_request(base: &str, path: &str, cluster: i64, app: i64, job: i64) -> (String, Option<Value>) {
    let id = if path.starts_with("/api/v1/apps/") {
        app
    } else if path.starts_with("/api/v1/jobs/") {
        job
    } else {
        cluster
    };
    let mut url = format!(
        "{base}{}",
        path.replace("{id}", &id.to_string())
            .replace("{service}", "nope")
            .replace("{rule}", "999999")
            .replace("{cert}", "999999")
            .replace("{balancer}", "nope")
            .replace("{trigger}", "999999")
            .replace("{run}", "999999")
    );
    if path.ends_with("/metrics") && path.contains("{id}") {
        url.push_str("?scope=cluster");
    }
    let body = match path {
        "/api/v1/apps" => Some(serde_json::json!({ "cluster": cluster, "name": "", "compose": "" })),
        "/api/v1/apps/{id}/update" => Some(serde_json::json!({ "compose": "" })),
        "/api/v1/apps/{id}/release/weight" => Some(serde_json::json!({ "weight": 50 })),
        "/api/v1/apps/{id}/services/{service}/scale" => Some(serde_json::json!({ "replicas": 1 })),
        "/api/v1/apps/{id}/services/{service}/scaling" => {
            Some(serde_json::json!({ "metric": "cpu", "mode": "target", "target": "50", "max": "3" }))
        }
        "/api/v1/clusters/{id}/alerts" => Some(serde_json::json!({ "name": "", "kind": "metric" })),
        "/api/v1/clusters/{id}/policy" => Some(serde_json::json!({ "paths": [], "networks": [] })),
        "/api/v1/clusters/{id}/routing" => Some(serde_json::json!({ "root_domain": "", "edge_label": false })),
        "/api/v1/clusters/{id}/certificates" => Some(serde_json::json!({ "certificate": "", "key": "" })),
        "/api/v1/clusters/{id}/load-balancers" => Some(serde_json::json!({ "name": "Bad Name" })),
        "/api/v1/apps/{id}/triggers" => Some(serde_json::json!({ "name": "Bad Name", "action": "redeploy" })),
        _ => None,
    };
    (url, body)
}

#[test]
fn every_server_function_and_route_has_a_row() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_string())
        .collect();
    let covered: BTreeSet<String> = rows().iter().map(|r| r.function.to_string()).collect();
    let missing: Vec<_> = registered.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&registered).collect();
    assert!(missing.is_empty(), "server functions without a row in the authorization matrix: {missing:?}");
    assert!(stale.is_empty(), "rows for server functions that do not exist: {stale:?}");

    let routes: BTreeSet<(&str, &str)> = berth::rest::ROUTES.iter().copied().collect();
    let rest_covered: BTreeSet<(&str, &str)> = REST_ROWS.iter().map(|(m, p, _)| (*m, *p)).collect();
    assert_eq!(routes, rest_covered, "every REST route needs exactly one row");
}

/// One signed-in (or anonymous) actor: a browser with its session and an API token.
struct Caller {
    who: Who,
    browser: Browser,
    username: &'static str,
    password: String,
    id: i64,
    token: Option<String>,
}

async fn json(res: reqwest::Response) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))
}

async fn ok_json(res: reqwest::Response) -> Value {
    assert!(res.status().is_success(), "{}", res.status());
    json(res).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix() {
    let f = fixture(|_| {}).await;
    create_admin(&f.browser, &f.server.token()).await;
    let store = f.server.berth.store().clone();
    let now = domain::clock::now_ms();

    // Two clusters whose single node has no engine behind it: allowed node calls fail fast after
    // authorization instead of touching anything real.
    let mut clusters = Vec::new();
    for name in ["granted", "other"] {
        let new =
            NewCluster { name: name.into(), provider: "hosts".into(), status: "ready".into(), zones: vec!["a".into()] };
        let cluster = store.cluster_insert(&new, now).await.unwrap();
        let node = NewNode {
            cluster_id: cluster,
            name: "n1".into(),
            endpoint: "unix:///nonexistent/berth-matrix.sock".into(),
            container: String::new(),
            role: "manager".into(),
            zone: "a".into(),
            state: "ready".into(),
            tls: "none".into(),
            address: "10.9.8.7".into(),
        };
        let node = store.node_insert(&node, now).await.unwrap();
        let job = store
            .job_insert(&NewJob {
                kind: "cluster.create",
                cluster_id: Some(cluster),
                target: name,
                steps: &[],
                actor_name: "ada",
                runner: "",
                started_at: now,
            })
            .await
            .unwrap();
        store.job_finish(job, "succeeded", "", &[], now).await.unwrap();
        clusters.push((cluster, node, job));
    }
    let (granted, other) = (clusters[0].0, clusters[1].0);

    // An app on each cluster, deployed by the admin (its job fails: the node has no engine).
    let mut apps = Vec::new();
    {
        let berth = &f.server.berth;
        let actor = admin_actor(berth).await;
        for cluster in [granted, other] {
            let input = domain::app::AppInput {
                cluster_id: cluster,
                name: "matrix".into(),
                compose: "services:\n  web:\n    image: berth-test/busybox:1\n".into(),
                ..Default::default()
            };
            apps.push(berth.deploy_app(&actor, &input).await.unwrap().0);
        }
    }

    // Sub-accounts made through the API, each granted its role on the first cluster.
    let admin = &f.browser;
    let mut callers = vec![Caller {
        who: Who::Anonymous,
        browser: Browser::new(&f.server.url),
        username: "",
        password: String::new(),
        id: 1,
        token: None,
    }];
    for (who, username, role) in [
        (Who::Viewer, "vic", "viewer"),
        (Who::Operator, "otto", "operator"),
        (Who::ClusterAdmin, "carla", "cluster_admin"),
    ] {
        let password = format!("{username} sails the harbour at dawn");
        let res = admin
            .call(
                "create_user",
                &[
                    ("username", username),
                    ("display_name", ""),
                    ("role", "user"),
                    ("password", &password),
                    ("confirm_password", &password),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
        let users = ok_json(admin.call("get_users", &[]).await).await;
        let id = users.as_array().unwrap().iter().find(|u| u["username"] == username).unwrap()["id"].as_i64().unwrap();
        let res = admin.call("set_grant", &[("user", &s(id)), ("cluster", &s(granted)), ("role", role)]).await;
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
        let browser = Browser::new(&f.server.url);
        assert_eq!(browser.sign_in(username, &password).await.status(), StatusCode::OK);
        callers.push(Caller { who, browser, username, password, id, token: None });
    }
    callers.push(Caller {
        who: Who::Admin,
        browser: Browser::new(&f.server.url),
        username: "ada",
        password: PASSWORD.to_string(),
        id: 1,
        token: None,
    });
    let last = callers.last().unwrap();
    assert_eq!(last.browser.sign_in("ada", PASSWORD).await.status(), StatusCode::OK);

    // An API token for each signed-in caller, as wide as the caller may make it.
    for c in callers.iter_mut().filter(|c| c.who != Who::Anonymous) {
        let role = if c.who == Who::Admin { "admin" } else { "cluster_admin" };
        let issued = ok_json(
            c.browser
                .call("create_token", &[("name", "matrix"), ("role", role), ("cluster", "all"), ("days", "1")])
                .await,
        )
        .await;
        c.token = Some(issued["secret"].as_str().unwrap().to_string());
    }

    // A shared link on each cluster, for the revoke row.
    let mut shares = Vec::new();
    for cluster in [granted, other] {
        let issued =
            ok_json(admin.call("create_share", &[("cluster", &s(cluster)), ("label", "wall"), ("hours", "24")]).await)
                .await;
        shares.push(issued["id"].as_i64().unwrap());
    }

    // Lists are filtered in the domain: the viewer sees the granted cluster only, the admin both.
    let seen =
        |v: Value| v.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(seen(ok_json(callers[1].browser.call("get_clusters", &[]).await).await), ["granted"]);
    assert_eq!(seen(ok_json(callers[4].browser.call("get_clusters", &[]).await).await), ["granted", "other"]);

    let history = |berth: domain::Berth| async move {
        let actor = admin_actor(&berth).await;
        berth.recent_operations(&actor, 1000).await.unwrap()
    };
    let denied_before = history(f.server.berth.clone()).await.iter().filter(|o| o.outcome == "denied").count();

    let mut unexpected = Vec::new();
    let (mut cells, mut allows, mut denials, mut denied_mutations) = (0, 0, 0, 0);
    // REST routes with each caller's API token (none for anonymous), on both clusters, before the
    // server functions (whose last row deletes the clusters).
    let client = reqwest::Client::new();
    for (method, path, rule) in REST_ROWS {
        let per_cluster = path.contains("{id}") || *path == "/api/v1/apps";
        for (index, (cluster, _, job)) in clusters.iter().enumerate().take(if per_cluster { 2 } else { 1 }) {
            let (url, body) = rest_request(&f.server.url, path, *cluster, apps[index], *job);
            for caller in &callers {
                let mut req = match *method {
                    "GET" => client.get(&url),
                    "DELETE" => client.delete(&url),
                    "PUT" => client.put(&url).json(body.as_ref().unwrap_or(&serde_json::json!({}))),
                    _ => client.post(&url).json(body.as_ref().unwrap_or(&serde_json::json!({}))),
                };
                if let Some(token) = &caller.token {
                    req = req.bearer_auth(token);
                }
                let res = req.send().await.unwrap();
                let status = res.status();
                let text = res.text().await.unwrap();
                cells += 1;
                let allowed = status != StatusCode::UNAUTHORIZED
                    && status != StatusCode::FORBIDDEN
                    && !hidden(status, &text, apps[index], *job);
                allows += usize::from(allowed);
                denials += usize::from(!allowed);
                let expected = rule.allows(caller.who, index == 0);
                if allowed != expected {
                    unexpected.push(format!("{method} {url} as {:?}: {status}", caller.who));
                }
            }
        }
    }
    for row in rows() {
        for (index, (cluster, node, job)) in clusters.iter().copied().enumerate() {
            let granted_here = index == 0;
            // Rows that do not depend on the cluster run once.
            if index == 1
                && !matches!(row.rule, Rule::Read | Rule::Operate | Rule::Manage)
                && row.function != "delete_cluster"
            {
                continue;
            }
            let mut statuses = Vec::new();
            for caller in &callers {
                let ids = Ids { cluster, node, job, share: shares[index], app: apps[index], me: caller.id };
                let args = (row.args)(&ids);
                let form: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let res = caller.browser.call(row.function, &form).await;
                let status = res.status();
                let body = res.text().await.unwrap();
                cells += 1;
                let hides = hidden(status, &body, ids.app, ids.job);
                let allowed = status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN && !hides;
                let expected = row.rule.allows(caller.who, granted_here);
                if allowed {
                    allows += 1;
                } else {
                    denials += 1;
                    if !row.function.starts_with("get_")
                        && !row.function.starts_with("list_")
                        && caller.who != Who::Anonymous
                        && row.rule != Rule::Public
                    {
                        denied_mutations += 1;
                    }
                }
                if row.rule != Rule::Public && allowed != expected {
                    unexpected.push(format!(
                        "{} on {} as {:?}: {status} (expected {}) {body}",
                        row.function,
                        if granted_here { "the granted cluster" } else { "another cluster" },
                        caller.who,
                        if expected { "allowed" } else { "refused" }
                    ));
                }
                if !allowed && row.rule != Rule::Public && !hides {
                    let want =
                        if caller.who == Who::Anonymous { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN };
                    assert_eq!(status, want, "{} as {:?}: {body}", row.function, caller.who);
                }
                statuses.push(status);
                if row.function == "sign_out" && caller.who != Who::Anonymous {
                    assert_eq!(
                        caller.browser.sign_in(caller.username, &caller.password).await.status(),
                        StatusCode::OK
                    );
                }
            }
            if row.rule == Rule::Public {
                assert!(
                    statuses.windows(2).all(|w| w[0] == w[1]),
                    "{}: a public function answered differently by caller: {statuses:?}",
                    row.function
                );
            }
        }
    }

    // The matrix's size, for anyone reading the test output.
    report(&format!(
        "authorization matrix: {cells} cells, {allows} allowed, {denials} refused, {} unexpected",
        unexpected.len()
    ));
    assert!(unexpected.is_empty(), "unexpected outcomes:\n{}", unexpected.join("\n"));

    // Every refused mutation by a signed-in user is in the history.
    let denied_after = history(f.server.berth.clone()).await.iter().filter(|o| o.outcome == "denied").count();
    assert!(denied_after - denied_before >= denied_mutations, "{denied_after} - {denied_before} < {denied_mutations}");
    f.server.stop().await;
}

/// An app or job of a cluster the caller may not see answers exactly as a missing one (404 naming
/// the id): a refusal that does not tell the id exists.
fn hidden(status: StatusCode, body: &str, app: i64, job: i64) -> bool {
    status == StatusCode::NOT_FOUND
        && serde_json::from_str::<Value>(body).is_ok_and(|v| {
            let message = v["message"].as_str().unwrap_or_default();
            message == format!("app {app} not found") || message == format!("operation {job} not found")
        })
}

#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("{line}");
}
