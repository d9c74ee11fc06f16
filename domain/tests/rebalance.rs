//! Rebalancing on a real 3-node local cluster: a service deployed while n3 is drained runs 3/3/0;
//! after n3 is active again swarm leaves it so. The dry run says what would move and changes
//! nothing; **Apply** turns 3/3/0 into 2/2/2 and restarts only the 2 tasks it moves (the other 4
//! keep their ids), and is an operation in the history. Reading a plan needs a viewer; applying it
//! a cluster admin.

use std::collections::{BTreeMap, HashMap, HashSet};

use domain::app::AppInput;
use std::time::Duration;

use domain::engine::{Endpoint, Engine, NodeAvailability};
use domain::store::OperationFilter;
use domain::testing::{admin, job_end, ClusterOptions, TestBerth, TestCluster};
use domain::Actor;

const IMAGE: &str = "berth-test/rebalance:1";
const TEMPLATE: &str = r#"
services:
  web:
    image: berth-test/rebalance:1
    init: true
    command: ["sleep", "100000"]
    deploy:
      replicas: 6
"#;

/// Running task ids of `shop_web` per node name, read from the manager's engine.
async fn spread(cluster: &TestCluster) -> HashMap<String, HashSet<String>> {
    let names: HashMap<String, String> =
        cluster.summary.nodes.iter().map(|n| (n.swarm_node_id.clone(), n.name.clone())).collect();
    let manager = Engine::new(Endpoint::parse(&cluster.node("n1").endpoint).unwrap(), Duration::from_secs(5));
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for task in manager.service_tasks("shop_web").await.unwrap() {
        if task.state == "running" && task.desired_state == "running" {
            out.entry(names[&task.node_id].clone()).or_default().insert(task.id);
        }
    }
    out
}

fn counts(s: &HashMap<String, HashSet<String>>) -> Vec<usize> {
    ["n1", "n2", "n3"].iter().map(|n| s.get(*n).map(HashSet::len).unwrap_or(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_changes_nothing_and_apply_moves_only_the_tasks_it_names() {
    let t = TestBerth::new(|_| {}).await;
    let berth = &t.berth;
    let cluster = TestCluster::create(berth, ClusterOptions::three_nodes("rb").image(IMAGE, &["sleep"])).await;
    let n3 = cluster.node("n3").id;
    berth.set_node_availability(&admin(), cluster.id, n3, NodeAvailability::Drain).await.unwrap();
    let input = AppInput {
        cluster_id: cluster.id,
        name: "shop".into(),
        compose: TEMPLATE.into(),
        vars: BTreeMap::new(),
        template_id: None,
    };
    let (_, job) = berth.deploy_app(&admin(), &input).await.unwrap();
    let job = job_end(berth, job).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());
    berth.set_node_availability(&admin(), cluster.id, n3, NodeAvailability::Active).await.unwrap();
    let before = spread(&cluster).await;
    assert_eq!(counts(&before), [3, 3, 0], "{before:?}");

    // The dry run names the moves and changes nothing.
    let plan = berth.rebalance_plan(&admin(), cluster.id, None).await.unwrap();
    let web = plan.services.iter().find(|s| s.service == "shop_web").expect("the service is planned");
    assert_eq!(web.describe(), ["move 1 task of shop_web from n1 to n3", "move 1 task of shop_web from n2 to n3"]);
    assert_eq!(plan.tasks_to_move(), 2);
    assert_eq!(spread(&cluster).await, before, "a dry run moves nothing");

    // A viewer may read the plan, not apply it.
    let viewer = Actor {
        principal: domain::Principal::User(domain::UserRef {
            id: 7,
            username: "vera".into(),
            role: domain::authz::Role::User,
            grants: vec![domain::Grant { cluster: Some(cluster.id), role: domain::ClusterRole::Viewer }],
            token: None,
        }),
        source: "127.0.0.1".into(),
        request_id: "test".into(),
    };
    assert!(berth.rebalance_plan(&viewer, cluster.id, None).await.is_ok());
    let refused = berth.rebalance_apply(&viewer, cluster.id, None).await.unwrap_err();
    assert!(matches!(refused, domain::Error::Forbidden(_)), "{refused}");

    // Apply: 2/2/2, and only two tasks are new.
    let job = berth.rebalance_apply(&admin(), cluster.id, None).await.unwrap();
    let job = job_end(berth, job).await;
    assert_eq!(job.status, "succeeded", "{}: {:?}", job.error, job.steps());
    let after = spread(&cluster).await;
    assert_eq!(counts(&after), [2, 2, 2], "{after:?}");
    let old: HashSet<&String> = before.values().flatten().collect();
    let kept = after.values().flatten().filter(|id| old.contains(id)).count();
    assert_eq!(kept, 4, "only the 2 moved tasks restarted: {before:?} → {after:?}");
    let plan = berth.rebalance_plan(&admin(), cluster.id, None).await.unwrap();
    assert_eq!(plan.tasks_to_move(), 0, "{plan:?}");
    let filter = OperationFilter { action: "cluster.rebalance".into(), limit: 10, ..Default::default() };
    let ops = berth.operations(&admin(), &filter).await.unwrap();
    assert!(ops.iter().any(|o| o.outcome == "success"), "{ops:?}");
}
