//! The dependency graph of models: topological order, cycles named, the
//! downstream closure of a model and which runs of a tick are ready, and
//! which must be skipped because an upstream failed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A dependency cycle, as the models along it with the first repeated last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<String>);

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dependency cycle: {}", self.0.join(" -> "))
    }
}

/// Nodes by name, edges from upstream to downstream. Names are kept sorted
/// so that every order the graph produces is deterministic.
#[derive(Debug, Clone, Default)]
pub struct Dag {
    down: BTreeMap<String, BTreeSet<String>>,
    up: BTreeMap<String, BTreeSet<String>>,
}

impl Dag {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_node(&mut self, name: &str) {
        self.down.entry(name.to_string()).or_default();
        self.up.entry(name.to_string()).or_default();
    }

    /// `upstream` must run before `downstream`. Both become nodes.
    pub fn add_edge(&mut self, upstream: &str, downstream: &str) {
        self.add_node(upstream);
        self.add_node(downstream);
        self.down.get_mut(upstream).unwrap().insert(downstream.to_string());
        self.up.get_mut(downstream).unwrap().insert(upstream.to_string());
    }

    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.down.keys().map(String::as_str)
    }

    pub fn edges(&self) -> impl Iterator<Item = (&str, &str)> {
        self.down.iter().flat_map(|(u, ds)| ds.iter().map(move |d| (u.as_str(), d.as_str())))
    }

    pub fn upstreams(&self, name: &str) -> impl Iterator<Item = &str> {
        self.up.get(name).into_iter().flatten().map(String::as_str)
    }

    /// Every node, each after all its upstreams (ties broken by name).
    pub fn topological_order(&self) -> Result<Vec<String>, Cycle> {
        let mut indegree: BTreeMap<&str, usize> = self.up.iter().map(|(n, u)| (n.as_str(), u.len())).collect();
        let mut ready: BTreeSet<&str> = indegree.iter().filter(|(_, d)| **d == 0).map(|(n, _)| *n).collect();
        let mut order = Vec::with_capacity(indegree.len());
        while let Some(n) = ready.pop_first() {
            order.push(n.to_string());
            for d in &self.down[n] {
                let e = indegree.get_mut(d.as_str()).unwrap();
                *e -= 1;
                if *e == 0 {
                    ready.insert(d.as_str());
                }
            }
        }
        if order.len() == self.down.len() {
            return Ok(order);
        }
        let done: BTreeSet<&str> = order.iter().map(String::as_str).collect();
        Err(self.find_cycle(&done))
    }

    /// A cycle among the nodes a topological sort could not place: every such
    /// node has an upstream that is also unplaced, so walking upstream must
    /// revisit a node.
    fn find_cycle(&self, placed: &BTreeSet<&str>) -> Cycle {
        let start = self.up.keys().find(|n| !placed.contains(n.as_str())).unwrap();
        let mut path: Vec<&str> = vec![start.as_str()];
        loop {
            let cur = *path.last().unwrap();
            let next = self.up[cur].iter().find(|u| !placed.contains(u.as_str())).unwrap();
            if let Some(i) = path.iter().position(|p| *p == next.as_str()) {
                // path runs downstream-to-upstream; report it upstream first.
                let mut cycle: Vec<String> = path[i..].iter().rev().map(|s| s.to_string()).collect();
                // Start at the smallest name so the message is stable.
                let k = (0..cycle.len()).min_by_key(|&j| &cycle[j]).unwrap();
                cycle.rotate_left(k);
                cycle.push(cycle[0].clone());
                return Cycle(cycle);
            }
            path.push(next.as_str());
        }
    }

    /// `roots` and everything downstream of them, in topological order.
    pub fn downstream_closure(&self, roots: &[&str]) -> Result<Vec<String>, Cycle> {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut stack: Vec<&str> = roots.iter().copied().filter(|r| self.down.contains_key(*r)).collect();
        while let Some(n) = stack.pop() {
            if seen.insert(n) {
                stack.extend(self.down[n].iter().map(String::as_str));
            }
        }
        Ok(self.topological_order()?.into_iter().filter(|n| seen.contains(n.as_str())).collect())
    }

    /// Whether adding the edge `upstream -> downstream` would close a cycle;
    /// if so, the cycle it would close.
    pub fn cycle_with(&self, upstream: &str, downstream: &str) -> Option<Cycle> {
        let mut g = self.clone();
        g.add_edge(upstream, downstream);
        g.topological_order().err()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Skipped,
}

/// What to do next in a tick that runs `members` (in topological order of
/// `dag`), given the outcomes so far: the members whose upstreams inside the
/// tick all succeeded (ready to run), and those with an upstream inside the
/// tick that failed or was skipped (to mark skipped). Upstreams outside the
/// tick do not hold anything back.
pub fn next_steps(dag: &Dag, members: &[String], outcomes: &BTreeMap<String, Outcome>) -> (Vec<String>, Vec<String>) {
    let in_tick: BTreeSet<&str> = members.iter().map(String::as_str).collect();
    let (mut ready, mut skip) = (vec![], vec![]);
    for m in members {
        if outcomes.contains_key(m) {
            continue;
        }
        let ups: Vec<&str> = dag.upstreams(m).filter(|u| in_tick.contains(u)).collect();
        if ups.iter().any(|u| matches!(outcomes.get(*u), Some(Outcome::Failed | Outcome::Skipped))) {
            skip.push(m.clone());
        } else if ups.iter().all(|u| outcomes.get(*u) == Some(&Outcome::Succeeded)) {
            ready.push(m.clone());
        }
    }
    (ready, skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(edges: &[(&str, &str)]) -> Dag {
        let mut g = Dag::new();
        for (u, d) in edges {
            g.add_edge(u, d);
        }
        g
    }

    #[test]
    fn order_respects_every_edge() {
        let edges = [("raw", "clean"), ("clean", "hourly"), ("hourly", "daily"), ("clean", "users"), ("users", "daily")];
        let g = dag(&edges);
        let order = g.topological_order().unwrap();
        assert_eq!(order.len(), 5);
        let pos = |n: &str| order.iter().position(|o| o == n).unwrap();
        for (u, d) in edges {
            assert!(pos(u) < pos(d), "{u} before {d} in {order:?}");
        }
        assert_eq!(order, vec!["raw", "clean", "hourly", "users", "daily"]);
    }

    #[test]
    fn cycle_is_named() {
        let g = dag(&[("a", "b"), ("b", "c"), ("c", "a"), ("x", "a")]);
        let c = g.topological_order().unwrap_err();
        assert_eq!(c.to_string(), "dependency cycle: a -> b -> c -> a");
        let g = dag(&[("m", "m")]);
        assert_eq!(g.topological_order().unwrap_err().to_string(), "dependency cycle: m -> m");
        // a cycle downstream of an acyclic part
        let g = dag(&[("s", "t"), ("t", "u"), ("u", "v"), ("v", "t")]);
        assert_eq!(g.topological_order().unwrap_err().0, vec!["t", "u", "v", "t"]);
    }

    #[test]
    fn cycle_with_a_new_edge() {
        let g = dag(&[("a", "b"), ("b", "c")]);
        assert!(g.cycle_with("a", "c").is_none());
        assert_eq!(g.cycle_with("c", "a").unwrap().0, vec!["a", "b", "c", "a"]);
    }

    #[test]
    fn downstream_closure_in_order() {
        let g = dag(&[("a", "b"), ("b", "d"), ("a", "c"), ("c", "d"), ("x", "y")]);
        assert_eq!(g.downstream_closure(&["b"]).unwrap(), vec!["b", "d"]);
        assert_eq!(g.downstream_closure(&["a"]).unwrap(), vec!["a", "b", "c", "d"]);
        assert_eq!(g.downstream_closure(&["y"]).unwrap(), vec!["y"]);
    }

    #[test]
    fn failure_skips_everything_downstream_but_not_siblings() {
        let g = dag(&[("a", "b"), ("b", "d"), ("a", "c"), ("c", "e")]);
        let members = g.topological_order().unwrap();
        let mut out = BTreeMap::new();
        assert_eq!(next_steps(&g, &members, &out), (vec!["a".to_string()], vec![]));
        out.insert("a".to_string(), Outcome::Succeeded);
        assert_eq!(next_steps(&g, &members, &out).0, vec!["b", "c"]);
        out.insert("b".to_string(), Outcome::Failed);
        out.insert("c".to_string(), Outcome::Succeeded);
        assert_eq!(next_steps(&g, &members, &out), (vec!["e".to_string()], vec!["d".to_string()]));
        out.insert("d".to_string(), Outcome::Skipped);
        out.insert("e".to_string(), Outcome::Succeeded);
        assert_eq!(next_steps(&g, &members, &out), (vec![], vec![]));
    }

    #[test]
    fn skips_propagate_transitively() {
        let g = dag(&[("a", "b"), ("b", "c")]);
        let members = g.topological_order().unwrap();
        let mut out = BTreeMap::from([("a".to_string(), Outcome::Failed)]);
        assert_eq!(next_steps(&g, &members, &out).1, vec!["b"]);
        out.insert("b".to_string(), Outcome::Skipped);
        assert_eq!(next_steps(&g, &members, &out).1, vec!["c"]);
    }

    #[test]
    fn upstreams_outside_the_tick_do_not_block() {
        let g = dag(&[("a", "b")]);
        let (ready, skip) = next_steps(&g, &["b".to_string()], &BTreeMap::new());
        assert_eq!((ready, skip), (vec!["b".to_string()], vec![]));
    }
}
