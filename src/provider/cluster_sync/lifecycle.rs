//! The lifecycle model: the provider calls Terraform core makes for each CLI operation,
//! run through `ownership`'s pure rule against a model cluster, and the property tests that
//! check the rule of the shared cluster after every step of random sequences of commands.
//!
//! What is modelled, from the design's lifecycle-notes.md: each walk (plan, apply, import)
//! is its own provider process per provider configuration (alias); a `terraform apply` is a
//! plan walk (refresh, PlanResourceChange for every instance: creates and updates declare
//! their names, unchanged ones included) then an apply walk whose creates and updates plan
//! again right before they apply (the final plan, which declares in that process). A
//! process knows what it declared itself and, through the run's ledger, what the other
//! processes of the same `terraform` invocation declared; a saved plan applied by a later
//! `terraform apply FILE` has no plan walk in its invocation. Replacement is
//! delete-then-create, or with create_before_destroy create, depose, then destroy the
//! deposed object in the same walk; a create that fails with an object taints it; a deposed
//! object whose destroy fails stays for the next apply; a create_before_destroy create that
//! fails without an object restores the deposed one. Imports (CLI and import blocks) adopt
//! every synced name into the private record. The apply walk's order is any topological
//! order (a seed picks it; seed 0 is Terraform's usual one: every ready final plan, then
//! one batch per process), and steps of one process that run together share one batch, as
//! `batch::Queue` sends them.
//!
//! The provider side mirrors `iam_sync::crud` (plan, read, create, update, delete, import)
//! and `ClusterSync::apply`/`remove` with `batch::Queue::send` (decide, writes, POST,
//! DELETE, read, re-sync of declared names lost, read), calling the rule through the
//! `Rule` trait: `Current` is `ownership` itself, `Pre` reproduces the code before it
//! (commit ba6b0d4). The model cluster syncs a POSTed name when IAM has it (every IAM name
//! for a full sync) and drops a DELETEd one; faults make one write refused, applied with
//! its reply lost, cut by Ctrl-C (before it went out, or in its wait with the sync ended or
//! going on) or its wait timed out, or make one read fail.
//!
//! Invariants (I2 and I3a-b at every write and step, the others after every command):
//! - I1: after an apply that exits 0, every name a configured object declares (every IAM
//!   name, for is_all_sync) is synced, in a sync that still goes on in the cluster, or
//!   pending in the object's record while that sync goes on (a cut wait's warning says so).
//! - I2: no provider DELETE cancels a synced name that no configuration so far declared
//!   (is_all_sync in any configuration so far declares every name).
//! - I3: records tell the truth. (a) A record a step, refresh or import writes from a
//!   successful read lists only names synced, pending in it, or in a sync going on.
//!   (b) A step never drops from its record a name its object owned (held, not adopted)
//!   that is still synced, unless another resource of the configuration declares it, or
//!   the object now syncs everything. (c) After an apply that exits 0, every synced name a
//!   configuration lists is held, not adopted, by an object whose configuration lists it:
//!   removing it from the configuration cancels it.
//! - I4: after an apply that exits 0, with no sync going on, a refresh and plan plans no
//!   change for any instance and leaves no deposed object: the next apply writes nothing.
//!
//! Terraform makes no call for an object with no change planned, so such an object cannot
//! notice a change made by hand after the plan walk read the cluster: I1, I3 and I4 do not
//! judge it in that command (its record is marked unsure, as is one written without a
//! successful read).
//!
//! Not modelled: concurrency inside a batch (two processes' writes interleaving between
//! one batch's writes and its read), a sync still running when the next command reads,
//! `-refresh=false`, `-target`, refresh-only applies, `removed`/`moved` blocks and
//! `terraform state rm`, provider crashes and SIGKILL, several clusters, names unknown
//! until apply, timeouts of reads.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use super::names::Names;
use super::ownership::{self, Decision, Declared, Others, Outcome, Record, Step, Writes};

// ---------------------------------------------------------------- the rule under test

/// The pure functions a rule of ownership consists of, and whether the run's processes
/// share their declarations.
trait Rule {
    const NAME: &'static str;
    /// A process sees what the run's other processes declare (the ledger).
    const LEDGER: bool;
    fn decide(prior: Option<&Record>, step: &Step) -> Decision;
    fn writes(decisions: &[&Decision], others: &Declared, synced: Option<&Names>) -> Writes;
    fn record_after(
        prior: Option<&Record>,
        step: &Step,
        decision: &Decision,
        outcome: &Outcome,
    ) -> Option<Record>;
}

/// `ownership`, as the provider runs it.
struct Current;

impl Rule for Current {
    const NAME: &'static str = "current";
    const LEDGER: bool = true;
    fn decide(prior: Option<&Record>, step: &Step) -> Decision {
        ownership::decide(prior, step)
    }
    fn writes(decisions: &[&Decision], others: &Declared, synced: Option<&Names>) -> Writes {
        ownership::writes(decisions, others, synced)
    }
    fn record_after(
        prior: Option<&Record>,
        step: &Step,
        decision: &Decision,
        outcome: &Outcome,
    ) -> Option<Record> {
        ownership::record::record_after(prior, step, decision, outcome)
    }
}

/// What the code at ba6b0d4 decided, in the current rule's terms: a destroy cancelled every
/// name its state listed (adopted ones too: adoption ended only by an update); an all-sync
/// destroy cancelled every synced name no object declared by name (declarations knew no
/// all-sync); a failed destroy kept every name it held, those kept for others too; no
/// declared name lost since the plan was sent again; no ledger.
struct Pre;

impl Rule for Pre {
    const NAME: &'static str = "ba6b0d4";
    const LEDGER: bool = false;
    fn decide(prior: Option<&Record>, step: &Step) -> Decision {
        match step {
            // The update's sets were the same: add what is not held, cancel the managed
            // names (held minus released) the configuration dropped.
            Step::Sync { .. } => ownership::decide(prior, step),
            Step::Remove => {
                let p = prior.cloned().unwrap_or_default();
                Decision {
                    cancel: p.held,
                    cancel_all_synced: p.all_sync,
                    ..Decision::default()
                }
            }
        }
    }
    fn writes(decisions: &[&Decision], others: &Declared, synced: Option<&Names>) -> Writes {
        // No all-sync declarations, no ledger, and removals heeded the process's
        // declarations like updates did.
        let by_name = Declared {
            process: Others {
                names: others.process.names.clone(),
                all_sync: false,
            },
            run: Others::default(),
        };
        let updates: Vec<Decision> = decisions
            .iter()
            .map(|d| Decision {
                removal: false,
                ..(*d).clone()
            })
            .collect();
        let refs: Vec<&Decision> = updates.iter().collect();
        let mut w = ownership::writes(&refs, &by_name, synced);
        w.declared = Names::default();
        w
    }
    fn record_after(
        prior: Option<&Record>,
        step: &Step,
        d: &Decision,
        o: &Outcome,
    ) -> Option<Record> {
        let creating = prior.is_none();
        let p = prior.cloned().unwrap_or_default();
        match step {
            Step::Sync { desired, all_sync } => {
                let managed = if creating || *all_sync {
                    Names::default()
                } else {
                    p.held.minus(&d.released)
                }
                .minus(&o.kept_for_others);
                let (held, pending) = match &o.synced_after {
                    None => {
                        let maybe = if o.maybe_changed {
                            desired.union(&managed)
                        } else {
                            managed
                        };
                        if creating && maybe.is_empty() {
                            return None;
                        }
                        let pending = if o.goes_on {
                            d.add.clone()
                        } else {
                            Names::default()
                        };
                        (maybe, pending)
                    }
                    Some(s) => {
                        let pending = if o.goes_on {
                            d.add.minus(s)
                        } else {
                            Names::default()
                        };
                        let keep = desired.union(&managed).intersect(s).union(&pending);
                        let nothing = if *all_sync {
                            !o.written && !o.goes_on
                        } else {
                            keep.is_empty()
                        };
                        if creating && nothing {
                            return None;
                        }
                        (keep, pending)
                    }
                };
                Some(Record {
                    held,
                    adopted: Names::default(),
                    pending,
                    all_sync: *all_sync,
                })
            }
            Step::Remove => {
                let held = match (o.written, &o.synced_after) {
                    (true, Some(after)) => {
                        let asked = if p.all_sync { after } else { &p.held };
                        let lingering = asked.minus(&o.kept_for_others).intersect(after);
                        if lingering.is_empty() {
                            return None;
                        }
                        lingering
                    }
                    (false, Some(after)) => p.held.intersect(&after.union(&p.pending)),
                    (_, None) => p.held.clone(),
                };
                Some(Record {
                    held,
                    all_sync: p.all_sync,
                    ..Record::default()
                })
            }
        }
    }
}

// ---------------------------------------------------------------- names as bits

/// A set of names of the pool, one bit each.
type Set = u8;
const POOL: [&str; 8] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "data-eng", "ops",
];
const USERS: Set = 0b0011_1111;
const GROUPS: Set = 0b1100_0000;
const EVERY: Set = 0xFF;
/// frank, whom IAM may not know.
const FRANK: Set = 0b0010_0000;

fn names(s: Set) -> Names {
    let pick = |kind: Set| {
        (0..8)
            .filter(|i| s & kind & (1 << i) != 0)
            .map(|i| POOL[i].to_string())
            .collect()
    };
    Names {
        users: pick(USERS),
        groups: pick(GROUPS),
    }
}

fn set(n: &Names) -> Set {
    let bit = |name: &String, kind: Set| {
        (0..8)
            .find(|i| kind & (1 << i) != 0 && POOL[*i] == name.as_str())
            .map_or_else(|| panic!("{name} is not in the pool"), |i| 1 << i)
    };
    n.users.iter().fold(0, |a, u| a | bit(u, USERS))
        | n.groups.iter().fold(0, |a, g| a | bit(g, GROUPS))
}

fn show(s: Set) -> String {
    let listed: Vec<&str> = (0..8)
        .filter(|i| s & (1 << i) != 0)
        .map(|i| POOL[i])
        .collect();
    format!("[{}]", listed.join(", "))
}

fn one(bit: u8) -> String {
    let kind = if bit < 6 { "user" } else { "group" };
    format!("{kind} {}", POOL[usize::from(bit)])
}

// ---------------------------------------------------------------- configurations, states

const ADDRS: [&str; 3] = ["mrs_iam_sync.a", "mrs_iam_sync.b", "mrs_iam_sync.c"];
/// a and b use the default provider configuration, c the alias `mrs.second`: another
/// process in every walk, on the same cluster.
const ALIAS: [usize; 3] = [0, 0, 1];
const PROVIDERS: [&str; 2] = ["mrs", "mrs.second"];

/// One resource block.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ResCfg {
    /// Empty with `all_sync` (the arguments conflict); else not empty (validation).
    names: Set,
    all_sync: bool,
    cbd: bool,
}

impl ResCfg {
    fn kind(&self, kind: Set) -> Option<Set> {
        (!self.all_sync && self.names & kind != 0).then_some(self.names & kind)
    }
    fn desired(&self) -> Set {
        if self.all_sync {
            0
        } else {
            self.names
        }
    }
    /// Every name it declares, as a bit set (every name, for a full sync).
    fn declares(&self) -> Set {
        if self.all_sync {
            EVERY
        } else {
            self.names
        }
    }
    /// The planned values (a create's, or an update's).
    fn planned(&self) -> Obj {
        Obj {
            users: self.kind(USERS),
            groups: self.kind(GROUPS),
            all_sync: self.all_sync,
            ..Obj::default()
        }
    }
}

impl fmt::Debug for ResCfg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.all_sync {
            parts.push("is_all_sync = true".to_string());
        }
        if let Some(u) = self.kind(USERS) {
            parts.push(format!("user_names = {}", show(u)));
        }
        if let Some(g) = self.kind(GROUPS) {
            parts.push(format!("group_names = {}", show(g)));
        }
        if self.cbd {
            parts.push("lifecycle { create_before_destroy = true }".to_string());
        }
        write!(f, "{{ {} }}", parts.join(", "))
    }
}

/// One object in the state: its values and its private record.
#[derive(Clone, Debug, Default)]
struct Obj {
    users: Option<Set>,
    groups: Option<Set>,
    all_sync: bool,
    adopted: Set,
    pending: Set,
    /// Model only: the record was written from a read, with no change by hand since.
    sure: bool,
}

impl Obj {
    fn held(&self) -> Set {
        self.users.unwrap_or(0) | self.groups.unwrap_or(0)
    }
    /// `IamSyncModel::record`.
    fn record(&self) -> Record {
        let held = self.held();
        Record {
            held: names(held),
            adopted: names(self.adopted & held),
            pending: names(self.pending & held),
            all_sync: self.all_sync,
        }
    }
    fn same_values(&self, other: &Obj) -> bool {
        (self.users, self.groups, self.all_sync) == (other.users, other.groups, other.all_sync)
    }
    /// `IamSyncModel::with_names`: a kind left null stays null when it has no names.
    fn with_names(&self, held: Set) -> Obj {
        let attr = |prior: Option<Set>, n: Set| (prior.is_some() || n != 0).then_some(n);
        Obj {
            users: attr(self.users, held & USERS),
            groups: attr(self.groups, held & GROUPS),
            all_sync: self.all_sync,
            ..Obj::default()
        }
    }
    fn brief(&self) -> String {
        let mut s = if self.all_sync {
            "all-sync".to_string()
        } else {
            show(self.held())
        };
        if self.adopted & self.held() != 0 {
            s += &format!(" adopted {}", show(self.adopted & self.held()));
        }
        if self.pending & self.held() != 0 {
            s += &format!(" pending {}", show(self.pending & self.held()));
        }
        s
    }
}

/// One resource instance in the state.
#[derive(Clone, Debug, Default)]
struct Inst {
    current: Option<Obj>,
    tainted: bool,
    deposed: Vec<(u32, Obj)>,
}

// ---------------------------------------------------------------- operations

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FaultKind {
    /// The write is refused before any effect (a 400).
    Refused,
    /// The write takes effect but its reply is lost (a 500, a reset connection).
    LostReply,
    /// Ctrl-C: before the write went out, or during the wait after it (`finished`: the
    /// sync had ended; else it goes on in the cluster). Terraform starts nothing more.
    Interrupt { sent: bool, finished: bool },
    /// The wait after the write runs out of time; the sync ended or goes on.
    Timeout { finished: bool },
    /// A read of the synced names (or of the sync status) fails.
    ReadFails,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Fault {
    /// Which write (or read, for ReadFails) of the command, from 0.
    nth: u8,
    kind: FaultKind,
}

fn ordinal(n: u8) -> String {
    match n {
        0 => "1st".into(),
        1 => "2nd".into(),
        2 => "3rd".into(),
        n => format!("{}th", n + 1),
    }
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = ordinal(self.nth);
        match self.kind {
            FaultKind::Refused => write!(f, "the {n} write is refused (400)"),
            FaultKind::LostReply => write!(f, "the {n} write takes effect, its reply is lost"),
            FaultKind::Interrupt { sent: false, .. } => write!(f, "Ctrl-C before the {n} write"),
            FaultKind::Interrupt { finished, .. } => write!(
                f,
                "Ctrl-C in the wait after the {n} write (the sync {})",
                if finished { "has ended" } else { "goes on" }
            ),
            FaultKind::Timeout { finished } => write!(
                f,
                "the wait after the {n} write times out (the sync {})",
                if finished { "has ended" } else { "goes on" }
            ),
            FaultKind::ReadFails => write!(f, "the {n} read of the cluster fails"),
        }
    }
}

/// A change made by hand in the MRS console.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Drift {
    Cancel(u8),
    Sync(u8),
}

impl fmt::Debug for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Cancel(n) => write!(f, "cancel {}", one(*n)),
            Drift::Sync(n) => write!(f, "sync {}", one(*n)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ApplyArgs {
    replace: Option<usize>,
    /// An `import { to = ADDR }` block.
    import: Option<usize>,
    /// Changes by hand after the plan walk, before the apply walk.
    between: Vec<Drift>,
    fault: Option<Fault>,
    /// The apply walk's order: 0 is Terraform's usual one.
    schedule: u64,
}

#[derive(Clone, PartialEq, Eq)]
enum Op {
    Edit(usize, Option<ResCfg>),
    Move {
        name: u8,
        from: usize,
        to: usize,
    },
    Apply(ApplyArgs),
    /// `terraform plan -out`, the changes by hand, `terraform apply FILE`.
    SavedPlan(ApplyArgs),
    Destroy {
        fault: Option<Fault>,
        schedule: u64,
    },
    Import(usize),
    Taint(usize),
    ByHand(Drift),
}

fn flags(a: &ApplyArgs) -> String {
    let mut s = String::new();
    if let Some(r) = a.replace {
        s += &format!(" -replace={}", ADDRS[r]);
    }
    s
}

fn tail(fault: &Option<Fault>, schedule: u64) -> String {
    let mut s = String::new();
    if let Some(f) = fault {
        s += &format!("  [fault: {f:?}]");
    }
    if schedule != 0 {
        s += &format!("  [order {schedule:#x}]");
    }
    s
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Edit(r, Some(c)) => write!(f, "edit: {} = {c:?}", ADDRS[*r]),
            Op::Edit(r, None) => write!(f, "edit: remove {} from the configuration", ADDRS[*r]),
            Op::Move { name, from, to } => write!(
                f,
                "edit: move {} from {} to {}",
                one(*name),
                ADDRS[*from],
                ADDRS[*to]
            ),
            Op::Apply(a) => {
                if let Some(r) = a.import {
                    write!(f, "edit: add import {{ to = {} }}; ", ADDRS[r])?;
                }
                write!(f, "terraform apply{}", flags(a))?;
                if !a.between.is_empty() {
                    write!(
                        f,
                        "  [by hand after the plan, before \"yes\": {:?}]",
                        a.between
                    )?;
                }
                write!(f, "{}", tail(&a.fault, a.schedule))
            }
            Op::SavedPlan(a) => {
                write!(f, "terraform plan -out=tfplan{}; ", flags(a))?;
                for d in &a.between {
                    write!(f, "by hand: {d:?}; ")?;
                }
                write!(f, "terraform apply tfplan{}", tail(&a.fault, a.schedule))
            }
            Op::Destroy { fault, schedule } => {
                write!(f, "terraform destroy{}", tail(fault, *schedule))
            }
            Op::Import(r) => write!(f, "terraform import {} c1", ADDRS[*r]),
            Op::Taint(r) => write!(f, "terraform taint {}", ADDRS[*r]),
            Op::ByHand(d) => write!(f, "by hand in the MRS console: {d:?}"),
        }
    }
}

/// A starting point and the commands run from it.
#[derive(Clone)]
struct Case {
    iam: Set,
    /// Synced outside Terraform before the first command.
    initial: Set,
    config: [Option<ResCfg>; 3],
    ops: Vec<Op>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f)?;
        writeln!(
            f,
            "  IAM has {}; cluster c1 holds {} (synced outside Terraform)",
            show(self.iam),
            show(self.initial)
        )?;
        for (r, c) in self.config.iter().enumerate() {
            if let Some(c) = c {
                writeln!(
                    f,
                    "  config: {} = {c:?} (provider {})",
                    ADDRS[r], PROVIDERS[ALIAS[r]]
                )?;
            }
        }
        for (i, op) in self.ops.iter().enumerate() {
            writeln!(f, "  {}. {op:?}", i + 1)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- the world

#[derive(Clone)]
struct World {
    iam: Set,
    synced: Set,
    /// A sync that goes on after its wait was cut: (names, full), done when someone waits
    /// for the cluster or the next command starts.
    running: Option<(Set, bool)>,
    config: [Option<ResCfg>; 3],
    state: [Inst; 3],
    next_key: u32,
    /// Every name any configuration so far declared; `ever_all`: one was all-sync.
    ever: Set,
    ever_all: bool,
}

impl World {
    fn running_adds(&self) -> Set {
        match self.running {
            Some((n, all)) => (n | if all { EVERY } else { 0 }) & self.iam,
            None => 0,
        }
    }
    fn declare_config(&mut self) {
        for c in self.config.iter().flatten() {
            self.ever |= c.names;
            self.ever_all |= c.all_sync;
        }
    }
}

/// One provider process.
struct Proc {
    id: u32,
    alias: usize,
    declared: Set,
    declared_all: bool,
}

#[derive(Default)]
struct CmdState {
    fault: Option<Fault>,
    reads: u8,
    writes: u8,
    interrupted: bool,
    errors: bool,
    /// The run's ledger: what each process of this `terraform` invocation declared.
    ledger: BTreeMap<u32, (Set, bool)>,
    next_proc: u32,
    /// Declarations of the configuration being applied, by resource (none in destroy).
    truth: [Set; 3],
    /// Resources the apply walk makes no call for (planned NoOp).
    idle: [bool; 3],
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Action {
    NoOp,
    Create,
    Update,
    Replace { cbd: bool },
    Delete,
}

struct Plan {
    actions: [Action; 3],
    deposed: Vec<(usize, u32)>,
    /// The refreshed prior state.
    state: [Inst; 3],
    ok: bool,
}

impl Plan {
    fn empty(&self) -> bool {
        self.deposed.is_empty() && self.actions.iter().all(|a| *a == Action::NoOp)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fail {
    Refused,
    Lost,
    Cancelled,
    Timeout,
    Unreadable,
}

#[derive(Clone, Copy)]
enum Write {
    Post(Set, bool),
    Delete(Set),
}

/// What one request learns from its batch (`batch::BatchResult`).
struct BatchRes {
    written: Result<(), Fail>,
    maybe_changed: bool,
    sync_accepted: bool,
    kept: Names,
    synced_after: Option<Set>,
}

#[derive(Default)]
struct SendState {
    maybe_changed: bool,
    sync_accepted: bool,
    /// Per decision, as `Writes::kept`.
    kept: Vec<Names>,
    after: Option<Option<Set>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepEv {
    Create,
    Update,
    DestroyCurrent,
    DestroyDeposed(u32),
    /// The deposed object a create_before_destroy task left (its index).
    DestroyDeposedOf(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    /// The final plan of a create (deposing the current object first, with `cbd`).
    PlanCreate {
        cbd: bool,
    },
    PlanUpdate,
    Step(StepEv),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Waiting,
    Ok,
    Failed,
    Skipped,
}

struct Task {
    addr: usize,
    evs: Vec<Ev>,
    next: usize,
    after: Option<usize>,
    status: Status,
    deposed_key: Option<u32>,
    was_tainted: bool,
}

struct Model<R> {
    w: World,
    c: CmdState,
    log: Vec<String>,
    quiet: bool,
    violations: Vec<String>,
    rule: PhantomData<R>,
}

/// A small deterministic generator for the apply walk's order.
fn next_rand(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl<R: Rule> Model<R> {
    fn new(case: &Case) -> Model<R> {
        let mut w = World {
            iam: case.iam,
            synced: case.initial & case.iam,
            running: None,
            config: case.config,
            state: Default::default(),
            next_key: 0,
            ever: 0,
            ever_all: false,
        };
        w.declare_config();
        Model {
            w,
            c: CmdState::default(),
            log: Vec::new(),
            quiet: false,
            violations: Vec::new(),
            rule: PhantomData,
        }
    }

    fn log(&mut self, line: String) {
        if !self.quiet {
            self.log.push(line);
        }
    }

    fn violation(&mut self, v: String) {
        self.log(format!("      !! {v}"));
        self.violations.push(v);
    }

    // ------------------------------------------------ the cluster's API

    fn finish_running(&mut self) {
        if let Some((n, all)) = self.w.running.take() {
            self.w.synced |= (n | if all { EVERY } else { 0 }) & self.w.iam;
            self.log("      (the sync that went on has ended)".into());
        }
    }

    fn faulted(&self, n: u8, write: bool) -> Option<FaultKind> {
        self.c
            .fault
            .filter(|f| f.nth == n && (f.kind == FaultKind::ReadFails) != write)
            .map(|f| f.kind)
    }

    /// GET the synced names.
    fn read(&mut self) -> Option<Set> {
        let n = self.c.reads;
        self.c.reads += 1;
        if self.faulted(n, false).is_some() {
            self.log("      read -> fails".into());
            return None;
        }
        Some(self.w.synced)
    }

    /// GET the sync status: whether a sync runs.
    fn status(&mut self) -> Option<bool> {
        self.read().map(|_| self.w.running.is_some())
    }

    fn effect(&mut self, w: Write, now: bool) {
        match w {
            Write::Post(add, all) if !now => {
                let (n, a) = self.w.running.unwrap_or((0, false));
                self.w.running = Some((n | add, a || all));
            }
            Write::Post(add, all) => {
                self.w.synced |= (add | if all { EVERY } else { 0 }) & self.w.iam;
            }
            Write::Delete(cancel) => {
                let gone = cancel & self.w.synced;
                let undeclared = gone & !self.w.ever;
                if !self.w.ever_all && undeclared != 0 {
                    self.violation(format!(
                        "I2: DELETE cancelled {}, which no configuration ever declared",
                        show(undeclared)
                    ));
                }
                self.w.synced &= !cancel;
            }
        }
    }

    /// One write and the wait after it: whether MRS accepted it, and how it ended.
    fn write(&mut self, w: Write) -> (bool, Result<(), Fail>) {
        let n = self.c.writes;
        self.c.writes += 1;
        // A write is refused while a sync runs, and waited out.
        self.finish_running();
        let what = match w {
            Write::Post(add, all) => format!(
                "POST {}{}",
                show(add),
                if all { " is_all_sync" } else { "" }
            ),
            Write::Delete(c) => format!("DELETE {}", show(c)),
        };
        let kind = self.faulted(n, true);
        let (accepted, result) = match kind {
            None => {
                self.effect(w, true);
                (true, Ok(()))
            }
            Some(FaultKind::Refused) => (false, Err(Fail::Refused)),
            Some(FaultKind::LostReply) => {
                self.effect(w, true);
                (false, Err(Fail::Lost))
            }
            Some(FaultKind::Interrupt { sent: false, .. }) => {
                self.c.interrupted = true;
                (false, Err(Fail::Cancelled))
            }
            Some(FaultKind::Interrupt { finished, .. }) => {
                self.effect(w, finished);
                self.c.interrupted = true;
                (true, Err(Fail::Cancelled))
            }
            Some(FaultKind::Timeout { finished }) => {
                self.effect(w, finished);
                (true, Err(Fail::Timeout))
            }
            Some(FaultKind::ReadFails) => unreachable!("a read fault"),
        };
        self.log(format!(
            "      {what} -> {result:?} (cluster {})",
            show(self.w.synced)
        ));
        (accepted, result)
    }

    fn drift(&mut self, d: Drift) {
        self.finish_running();
        match d {
            Drift::Cancel(n) => self.w.synced &= !(1 << n),
            Drift::Sync(n) => self.w.synced |= (1 << n) & self.w.iam,
        }
        for inst in &mut self.w.state {
            inst.current.iter_mut().for_each(|o| o.sure = false);
            inst.deposed.iter_mut().for_each(|(_, o)| o.sure = false);
        }
    }

    // ------------------------------------------------ processes and declarations

    fn start(&mut self, fault: Option<Fault>) {
        self.finish_running();
        self.c = CmdState {
            fault,
            ..CmdState::default()
        };
    }

    fn new_invocation(&mut self) {
        self.c.ledger.clear();
    }

    fn procs(&mut self) -> [Proc; 2] {
        [0, 1].map(|alias| {
            self.c.next_proc += 1;
            Proc {
                id: self.c.next_proc,
                alias,
                declared: 0,
                declared_all: false,
            }
        })
    }

    /// `Declarations::declare` (and `declare_undeclared`): in the process, and published
    /// to the run's ledger.
    fn declare(&mut self, p: &mut Proc, cfg: &ResCfg) {
        p.declared |= cfg.desired();
        p.declared_all |= cfg.all_sync;
        let e = self.c.ledger.entry(p.id).or_default();
        e.0 |= cfg.desired();
        e.1 |= cfg.all_sync;
    }

    /// `Declarations::others`: this process's, and the run's other processes' (the
    /// ledger: this invocation's plan walk and the apply walk's other aliases).
    fn others(&self, p: &Proc) -> Declared {
        let (mut n, mut all) = (0, false);
        if R::LEDGER {
            for (id, (ln, la)) in &self.c.ledger {
                if *id != p.id {
                    n |= ln;
                    all |= la;
                }
            }
        }
        Declared {
            process: Others {
                names: names(p.declared),
                all_sync: p.declared_all,
            },
            run: Others {
                names: names(n),
                all_sync: all,
            },
        }
    }

    // ------------------------------------------------ ReadResource, ImportResourceState

    /// `crud::read`.
    fn refresh(&mut self, obj: &mut Obj) -> bool {
        let mut still = 0;
        if obj.pending != 0 {
            match self.status() {
                None => return false,
                Some(true) => still = obj.pending,
                Some(false) => {}
            }
        }
        let Some(s) = self.read() else {
            return false;
        };
        let keep = s | still;
        obj.users = obj.users.map(|x| x & keep);
        obj.groups = obj.groups.map(|x| x & keep);
        obj.adopted &= s;
        obj.pending = still;
        obj.sure = true;
        true
    }

    /// `import::import`, then the ReadResource Terraform makes with its private bytes.
    fn import_obj(&mut self) -> Result<Obj, &'static str> {
        let s = self.read().ok_or("the import's read failed")?;
        if s == 0 {
            return Err("Cannot import non-existent remote object");
        }
        let mut obj = Obj {
            adopted: s,
            ..Obj::default()
        }
        .with_names(s);
        obj.adopted = s;
        if !self.refresh(&mut obj) {
            return Err("the read after the import failed");
        }
        Ok(obj)
    }

    // ------------------------------------------------ the plan walk

    fn plan_walk(&mut self, replace: Option<usize>, import: Option<usize>, destroy: bool) -> Plan {
        let mut procs = self.procs();
        let mut state = self.w.state.clone();
        let mut ok = true;
        for (r, inst) in state.iter_mut().enumerate() {
            if import == Some(r) && inst.current.is_none() && self.w.config[r].is_some() {
                match self.import_obj() {
                    Ok(obj) => {
                        self.log(format!("    import {}: {}", ADDRS[r], obj.brief()));
                        inst.current = Some(obj);
                        inst.tainted = false;
                    }
                    Err(e) => {
                        self.log(format!("    import {}: error: {e}", ADDRS[r]));
                        ok = false;
                    }
                }
            } else if let Some(obj) = inst.current.as_mut() {
                ok &= self.refresh(obj);
            }
            for (_, obj) in inst.deposed.iter_mut() {
                ok &= self.refresh(obj);
            }
        }
        let mut actions = [Action::NoOp; 3];
        let mut deposed = Vec::new();
        for (r, inst) in state.iter().enumerate() {
            deposed.extend(inst.deposed.iter().map(|(k, _)| (r, *k)));
            if destroy {
                if inst.current.is_some() {
                    actions[r] = Action::Delete;
                }
                continue;
            }
            let p = &mut procs[ALIAS[r]];
            actions[r] = match (self.w.config[r], &inst.current) {
                (None, None) => Action::NoOp,
                (None, Some(_)) => Action::Delete,
                (Some(cfg), None) => {
                    self.declare(p, &cfg);
                    Action::Create
                }
                (Some(cfg), Some(_)) if inst.tainted => {
                    self.declare(p, &cfg);
                    Action::Replace { cbd: cfg.cbd }
                }
                (Some(cfg), Some(obj)) => {
                    // PlanChange::Update declares, and `plan_release` hands adopted names
                    // over with a forced in-place change.
                    self.declare(p, &cfg);
                    let handover = obj.adopted & obj.held() != 0 && !cfg.all_sync;
                    if replace == Some(r) {
                        Action::Replace { cbd: cfg.cbd }
                    } else if !obj.same_values(&cfg.planned()) || handover {
                        Action::Update
                    } else {
                        Action::NoOp
                    }
                }
            };
        }
        self.log({
            let shown: Vec<String> = (0..3)
                .filter(|r| actions[*r] != Action::NoOp)
                .map(|r| format!("{} {:?}", ADDRS[r], actions[r]))
                .chain(
                    deposed
                        .iter()
                        .map(|(r, k)| format!("{} deposed#{k} Delete", ADDRS[*r])),
                )
                .collect();
            let refreshed: Vec<String> = (0..3)
                .filter_map(|r| {
                    state[r]
                        .current
                        .as_ref()
                        .map(|o| format!("{} {}", ADDRS[r], o.brief()))
                })
                .collect();
            format!(
                "    plan walk: refreshed {{{}}}; plan: {}{}",
                refreshed.join("; "),
                if shown.is_empty() {
                    "no changes".to_string()
                } else {
                    shown.join(", ")
                },
                if ok { "" } else { " -- ERROR, nothing applied" }
            )
        });
        Plan {
            actions,
            deposed,
            state,
            ok,
        }
    }

    // ------------------------------------------------ the apply walk

    fn apply_walk(&mut self, plan: &Plan, seed: u64) {
        self.w.state = plan.state.clone();
        for (r, a) in plan.actions.iter().enumerate() {
            self.c.idle[r] = *a == Action::NoOp;
        }
        let mut procs = self.procs();
        let mut tasks: Vec<Task> = Vec::new();
        let task = |addr, evs: Vec<Ev>, after| Task {
            addr,
            evs,
            next: 0,
            after,
            status: Status::Waiting,
            deposed_key: None,
            was_tainted: false,
        };
        for (r, a) in plan.actions.iter().enumerate() {
            match a {
                Action::NoOp => {}
                Action::Create => tasks.push(task(
                    r,
                    vec![Ev::PlanCreate { cbd: false }, Ev::Step(StepEv::Create)],
                    None,
                )),
                Action::Update => tasks.push(task(
                    r,
                    vec![Ev::PlanUpdate, Ev::Step(StepEv::Update)],
                    None,
                )),
                Action::Delete => tasks.push(task(r, vec![Ev::Step(StepEv::DestroyCurrent)], None)),
                Action::Replace { cbd: false } => {
                    tasks.push(task(r, vec![Ev::Step(StepEv::DestroyCurrent)], None));
                    let before = tasks.len() - 1;
                    tasks.push(task(
                        r,
                        vec![Ev::PlanCreate { cbd: false }, Ev::Step(StepEv::Create)],
                        Some(before),
                    ));
                }
                Action::Replace { cbd: true } => {
                    tasks.push(task(
                        r,
                        vec![Ev::PlanCreate { cbd: true }, Ev::Step(StepEv::Create)],
                        None,
                    ));
                    let create = tasks.len() - 1;
                    tasks.push(task(
                        r,
                        vec![Ev::Step(StepEv::DestroyDeposedOf(create))],
                        Some(create),
                    ));
                }
            }
        }
        for (r, k) in &plan.deposed {
            tasks.push(task(*r, vec![Ev::Step(StepEv::DestroyDeposed(*k))], None));
        }
        let mut rng = seed;
        while !self.c.interrupted {
            for i in 0..tasks.len() {
                if tasks[i].status != Status::Waiting {
                    continue;
                }
                if let Some(a) = tasks[i].after {
                    if matches!(tasks[a].status, Status::Failed | Status::Skipped) {
                        tasks[i].status = Status::Skipped;
                    }
                }
            }
            let ready: Vec<usize> = (0..tasks.len())
                .filter(|i| {
                    tasks[*i].status == Status::Waiting
                        && tasks[*i]
                            .after
                            .is_none_or(|a| tasks[a].status == Status::Ok)
                })
                .collect();
            if ready.is_empty() {
                break;
            }
            if seed == 0 {
                for &t in &ready {
                    while let Ev::PlanCreate { .. } | Ev::PlanUpdate = tasks[t].evs[tasks[t].next] {
                        self.final_plan(&mut tasks[t], &mut procs);
                    }
                }
                for p in procs.iter_mut() {
                    let members: Vec<usize> = ready
                        .iter()
                        .copied()
                        .filter(|t| ALIAS[tasks[*t].addr] == p.alias)
                        .collect();
                    if !members.is_empty() && !self.c.interrupted {
                        self.run_batch(&mut tasks, &members, p);
                    }
                }
                continue;
            }
            let pick = ready[(next_rand(&mut rng) % ready.len() as u64) as usize];
            if !matches!(tasks[pick].evs[tasks[pick].next], Ev::Step(_)) {
                self.final_plan(&mut tasks[pick], &mut procs);
                continue;
            }
            let alias = ALIAS[tasks[pick].addr];
            let mut members = vec![pick];
            for &t in &ready {
                if t != pick
                    && ALIAS[tasks[t].addr] == alias
                    && matches!(tasks[t].evs[tasks[t].next], Ev::Step(_))
                    && next_rand(&mut rng).is_multiple_of(2)
                {
                    members.push(t);
                }
            }
            self.run_batch(&mut tasks, &members, &mut procs[alias]);
        }
        if self.c.interrupted {
            self.c.errors = true;
            self.log("    interrupted: Terraform starts nothing more".into());
        }
    }

    fn final_plan(&mut self, t: &mut Task, procs: &mut [Proc; 2]) {
        let r = t.addr;
        let Some(cfg) = self.w.config[r] else {
            unreachable!("a create or update of a configured resource")
        };
        if let Ev::PlanCreate { cbd: true } = t.evs[t.next] {
            let inst = &mut self.w.state[r];
            if let Some(obj) = inst.current.take() {
                let key = self.w.next_key;
                self.w.next_key += 1;
                inst.deposed.push((key, obj));
                t.deposed_key = Some(key);
                t.was_tainted = inst.tainted;
                inst.tainted = false;
            }
        }
        self.declare(&mut procs[ALIAS[r]], &cfg);
        self.log({
            format!(
                "    [{}] final plan of {} declares {cfg:?}",
                PROVIDERS[ALIAS[r]], ADDRS[r]
            )
        });
        t.next += 1;
    }

    /// Steps of one process that reach its cluster's queue together: one batch.
    fn run_batch(&mut self, tasks: &mut [Task], members: &[usize], p: &mut Proc) {
        struct Prep {
            t: usize,
            ev: StepEv,
            step: Step,
            prior: Option<Record>,
            prior_obj: Option<Obj>,
            decision: Decision,
        }
        let mut preps = Vec::new();
        for &t in members {
            let Ev::Step(mut ev) = tasks[t].evs[tasks[t].next] else {
                unreachable!("a step")
            };
            if let StepEv::DestroyDeposedOf(c) = ev {
                match tasks[c].deposed_key {
                    Some(k) => ev = StepEv::DestroyDeposed(k),
                    None => {
                        tasks[t].next += 1;
                        tasks[t].status = Status::Ok;
                        continue;
                    }
                }
            }
            tasks[t].next += 1;
            let r = tasks[t].addr;
            let cfg = self.w.config[r];
            let (step, prior_obj) = match ev {
                StepEv::Create | StepEv::Update => {
                    let Some(cfg) = cfg else {
                        unreachable!("configured")
                    };
                    let prior_obj = match ev {
                        StepEv::Update => self.w.state[r].current.clone(),
                        _ => None,
                    };
                    if let Some(o) = prior_obj.as_ref().filter(|o| o.all_sync && cfg.all_sync) {
                        // `crud::update`: only timeouts can change, nothing is sent.
                        let pending = o.pending & o.held();
                        let mut new = cfg.planned();
                        new.pending = pending;
                        new.sure = o.sure;
                        self.log(format!("    {} update: nothing to send", ADDRS[r]));
                        self.check_step(r, o.record(), &new, true);
                        self.w.state[r].current = Some(new);
                        tasks[t].status = Status::Ok;
                        continue;
                    }
                    // `ClusterSync::apply` declares again what no plan here declared.
                    self.declare(p, &cfg);
                    (
                        Step::Sync {
                            desired: names(cfg.desired()),
                            all_sync: cfg.all_sync,
                        },
                        prior_obj,
                    )
                }
                StepEv::DestroyCurrent => (Step::Remove, self.w.state[r].current.clone()),
                StepEv::DestroyDeposed(k) => (Step::Remove, self.deposed(r, k)),
                StepEv::DestroyDeposedOf(_) => unreachable!("resolved above"),
            };
            if step == Step::Remove && prior_obj.is_none() {
                tasks[t].status = Status::Ok;
                continue;
            }
            let prior = prior_obj.as_ref().map(Obj::record);
            let decision = R::decide(prior.as_ref(), &step);
            preps.push(Prep {
                t,
                ev,
                step,
                prior,
                prior_obj,
                decision,
            });
        }
        if preps.is_empty() {
            return;
        }
        self.log({
            let who: Vec<String> = preps
                .iter()
                .map(|x| format!("{} {:?}", ADDRS[tasks[x.t].addr], x.ev))
                .collect();
            format!("    [{}] batch: {}", PROVIDERS[p.alias], who.join(", "))
        });
        let decisions: Vec<Decision> = preps.iter().map(|x| x.decision.clone()).collect();
        let results = self.send(p, &decisions);
        for (x, res) in preps.into_iter().zip(results) {
            let r = tasks[x.t].addr;
            let goes_on =
                res.sync_accepted && matches!(res.written, Err(Fail::Timeout | Fail::Cancelled));
            let outcome = Outcome {
                written: res.written.is_ok(),
                maybe_changed: res.maybe_changed,
                goes_on,
                kept_for_others: res.kept.clone(),
                synced_after: res.synced_after.map(names),
            };
            let record = R::record_after(x.prior.as_ref(), &x.step, &x.decision, &outcome);
            let cancel = set(&x.decision.cancel);
            let readable = res.synced_after.is_some();
            let mut errors;
            let new = match x.step {
                Step::Sync { .. } => {
                    errors = match (&res.written, res.synced_after) {
                        (Err(_), s) => {
                            // `report::applied`: a cut wait is a warning only while every
                            // declared name is synced or pending.
                            let undone = cancel & s.unwrap_or(EVERY);
                            let pending = record.as_ref().map_or(0, |r| set(&r.pending));
                            let missing =
                                s.map_or(0, |s| set(&x.decision.declared) & !s & !pending);
                            !(goes_on && undone == 0 && missing == 0)
                        }
                        (Ok(()), None) => true,
                        (Ok(()), Some(s)) => {
                            set(&x.decision.declared) & !s != 0 || cancel & !set(&res.kept) & s != 0
                        }
                    };
                    let Some(cfg) = self.w.config[r] else {
                        unreachable!("configured")
                    };
                    match (&record, &x.prior_obj) {
                        (Some(rec), _) => {
                            let mut o = cfg.planned().with_names(set(&rec.held));
                            // `crud::converge`: a refused full sync is not recorded as one.
                            o.all_sync = rec.all_sync;
                            o.pending = set(&rec.pending);
                            o.sure = readable;
                            Some(o)
                        }
                        (None, Some(prior)) => {
                            let mut o = prior.clone();
                            o.adopted &= o.held();
                            Some(o)
                        }
                        (None, None) => {
                            // A create without an object must come with an error.
                            errors = true;
                            None
                        }
                    }
                }
                Step::Remove => {
                    errors = res.written.is_err() || !readable || record.is_some();
                    let Some(prior) = &x.prior_obj else {
                        unreachable!("a removal of an object")
                    };
                    record.as_ref().map(|rec| {
                        let mut o = if prior.all_sync {
                            prior.clone()
                        } else {
                            prior.with_names(set(&rec.held))
                        };
                        o.adopted = 0;
                        o.pending = 0;
                        o.sure = readable;
                        o
                    })
                }
            };
            self.log({
                format!(
                    "    {} {:?}: {}{}",
                    ADDRS[r],
                    x.ev,
                    new.as_ref().map_or("no object".into(), Obj::brief),
                    if errors { " -- ERROR" } else { "" }
                )
            });
            if let Some(o) = &new {
                self.check_record(ADDRS[r], o);
            }
            if let Some(prior) = &x.prior {
                let after = new.clone().unwrap_or_default();
                self.check_step(
                    r,
                    prior.clone(),
                    &after,
                    matches!(x.step, Step::Sync { .. }),
                );
            }
            self.c.errors |= errors;
            tasks[x.t].status = if errors { Status::Failed } else { Status::Ok };
            self.land(&mut tasks[x.t], x.ev, new, errors);
        }
    }

    fn deposed(&self, r: usize, k: u32) -> Option<Obj> {
        self.w.state[r]
            .deposed
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, o)| o.clone())
    }

    /// What Terraform saves from a step's answer.
    fn land(&mut self, t: &mut Task, ev: StepEv, new: Option<Obj>, errors: bool) {
        let inst = &mut self.w.state[t.addr];
        match ev {
            StepEv::Create => {
                let created = new.is_some();
                inst.current = new;
                inst.tainted = created && errors;
                if !created {
                    // A create_before_destroy create that failed without an object: the
                    // deposed object is current again.
                    if let Some(k) = t.deposed_key.take() {
                        if let Some(i) = inst.deposed.iter().position(|(key, _)| *key == k) {
                            inst.current = Some(inst.deposed.remove(i).1);
                            inst.tainted = t.was_tainted;
                        }
                    }
                }
            }
            StepEv::Update | StepEv::DestroyCurrent => {
                if new.is_none() {
                    inst.tainted = false;
                }
                inst.current = new;
            }
            StepEv::DestroyDeposed(k) => set_deposed(inst, k, new),
            StepEv::DestroyDeposedOf(_) => unreachable!("resolved when sent"),
        }
    }

    /// `batch::Queue::send`, against the model cluster.
    fn send(&mut self, p: &Proc, decisions: &[Decision]) -> Vec<BatchRes> {
        let refs: Vec<&Decision> = decisions.iter().collect();
        let mut st = SendState::default();
        let written = self.send_writes(p, &refs, &mut st);
        let synced_after = match st.after {
            Some(s) => s,
            None => self.read(),
        };
        decisions
            .iter()
            .enumerate()
            .map(|(i, _)| BatchRes {
                written,
                maybe_changed: st.maybe_changed,
                sync_accepted: st.sync_accepted,
                kept: st.kept.get(i).cloned().unwrap_or_default(),
                synced_after,
            })
            .collect()
    }

    fn send_writes(
        &mut self,
        p: &Proc,
        decisions: &[&Decision],
        st: &mut SendState,
    ) -> Result<(), Fail> {
        let synced_now = if decisions.iter().any(|d| d.cancel_all_synced) {
            Some(self.read().ok_or(Fail::Unreadable)?)
        } else {
            None
        };
        let others = self.others(p);
        let w = R::writes(decisions, &others, synced_now.map(names).as_ref());
        st.kept = w.kept.clone();
        self.log({
            format!(
                "      (others declare {}{}; kept {})",
                show(set(&others.process.names.union(&others.run.names))),
                if others.process.all_sync || others.run.all_sync {
                    " and all-sync"
                } else {
                    ""
                },
                show(set(&w
                    .kept
                    .iter()
                    .fold(Names::default(), |a, k| a.union(k))))
            )
        });
        if w.all_sync || !w.add.is_empty() {
            st.maybe_changed = true;
            let (accepted, r) = self.write(Write::Post(set(&w.add), w.all_sync));
            st.sync_accepted |= accepted;
            r?;
        }
        if !w.cancel.is_empty() {
            st.maybe_changed = true;
            self.limit_removal_of_unseen_declarations(p, decisions, set(&w.cancel));
            self.write(Write::Delete(set(&w.cancel))).1?;
        }
        match self.read() {
            Some(now) => {
                let missing = set(&w.declared) & !now;
                if missing != 0 {
                    st.maybe_changed = true;
                    self.log(format!("      re-sync of declared {}", show(missing)));
                    let (accepted, r) = self.write(Write::Post(missing, false));
                    st.sync_accepted |= accepted;
                    r?;
                    st.after = Some(self.read());
                } else {
                    st.after = Some(Some(now));
                }
            }
            None => st.after = Some(None),
        }
        Ok(())
    }

    /// The documented limit (docs/reliability.md, "Known limits"): a removal heeds only its
    /// own process's declarations, so a name that a resource the apply walk makes no call
    /// for, or a resource of another provider alias, still declares can be cancelled; that
    /// resource's next refresh and apply sync it again. Its object is marked unsure for
    /// this command, as for a change by hand.
    fn limit_removal_of_unseen_declarations(
        &mut self,
        p: &Proc,
        decisions: &[&Decision],
        cancel: Set,
    ) {
        if !decisions.iter().any(|d| d.removal) {
            return;
        }
        for r in 0..3 {
            let declared = self.w.config[r].map_or(0, |c| c.declares());
            let unseen = self.c.idle[r] || ALIAS[r] != p.alias;
            if unseen && declared & cancel != 0 {
                self.log(format!(
                    "      (known limit: a removal cancels {} that {} declares, unseen)",
                    show(declared & cancel),
                    ADDRS[r]
                ));
                if let Some(o) = self.w.state[r].current.as_mut() {
                    o.sure = false;
                }
            }
        }
    }

    // ------------------------------------------------ checks

    /// I3b, after one step of resource `r`'s object.
    fn check_step(&mut self, r: usize, prior: Record, after: &Obj, sync: bool) {
        if after.all_sync {
            return;
        }
        let others = (0..3)
            .filter(|q| !(sync && *q == r))
            .fold(0, |a, q| a | self.c.truth[q]);
        let lost = set(&prior.owned()) & self.w.synced & !after.held() & !others;
        if lost != 0 {
            self.violation(format!(
                "I3: the step of {} dropped {} from its record: still synced, owned by it, and no other object of the configuration declares them",
                ADDRS[r],
                show(lost)
            ));
        }
    }

    fn objects(&self) -> Vec<(String, &Obj)> {
        let mut out = Vec::new();
        for (r, inst) in self.w.state.iter().enumerate() {
            if let Some(o) = &inst.current {
                out.push((ADDRS[r].to_string(), o));
            }
            for (k, o) in &inst.deposed {
                out.push((format!("{} deposed#{k}", ADDRS[r]), o));
            }
        }
        out
    }

    /// I3a: a record written from a read lists only names synced, pending, or in a sync
    /// that goes on, when it is written. (A later step of another object on the same
    /// names, in the same walk, can make an earlier record stale: the next refresh reads
    /// it again.)
    fn check_record(&mut self, what: &str, o: &Obj) {
        let truth = self.w.synced | self.w.running_adds() | o.pending;
        let extra = o.held() & !truth;
        if o.sure && extra != 0 {
            self.violation(format!(
                "I3: {what} records {}, neither synced nor pending",
                show(extra)
            ));
        }
    }

    /// I1, I3c and I4, after an apply that exits 0.
    fn check_success(&mut self) {
        self.log(format!("    exit 0; cluster {}", show(self.w.synced)));
        let truth = self.w.synced | self.w.running_adds();
        let mut found = Vec::new();
        for (r, inst) in self.w.state.iter().enumerate() {
            let Some(cfg) = self.w.config[r] else {
                continue;
            };
            let Some(obj) = &inst.current else {
                found.push(format!("I1: {} has no object", ADDRS[r]));
                continue;
            };
            if !obj.sure {
                continue;
            }
            // The contract of a cut wait: names pending in the record while the sync
            // goes on are announced by a warning, and the next plan adds any that failed.
            let pending = if self.w.running.is_some() {
                obj.pending
            } else {
                0
            };
            let missing = cfg.declares() & self.w.iam & !(truth | pending);
            if missing != 0 {
                found.push(format!(
                    "I1: {} declares {} and the cluster does not hold them",
                    ADDRS[r],
                    show(missing)
                ));
            }
            let unowned = cfg.desired()
                & self.w.synced
                & !(0..3).fold(0, |a, q| {
                    let owns = match (&self.w.config[q], &self.w.state[q].current) {
                        (Some(c), Some(o)) => c.desired() & o.held() & !o.adopted,
                        _ => 0,
                    };
                    a | owns
                });
            if unowned != 0 {
                found.push(format!(
                    "I3: {} declares {}, synced, but no object that declares them holds them as its own",
                    ADDRS[r],
                    show(unowned)
                ));
            }
        }
        let pending = self.objects().iter().any(|(_, o)| o.pending != 0);
        if self.w.running.is_none() && !pending {
            let mut next: Model<R> = Model {
                w: self.w.clone(),
                c: CmdState::default(),
                log: Vec::new(),
                quiet: true,
                violations: Vec::new(),
                rule: PhantomData,
            };
            next.start(None);
            let plan = next.plan_walk(None, None, false);
            let exempt = |r: usize| self.w.state[r].current.as_ref().is_some_and(|o| !o.sure);
            let changes: Vec<String> = (0..3)
                .filter(|r| plan.actions[*r] != Action::NoOp && !exempt(*r))
                .map(|r| format!("{} {:?}", ADDRS[r], plan.actions[r]))
                .chain(
                    plan.deposed
                        .iter()
                        .map(|(r, k)| format!("{} deposed#{k} Delete", ADDRS[*r])),
                )
                .collect();
            if !plan.ok || !changes.is_empty() {
                found.push(format!(
                    "I4: the plan after a successful apply is not empty: {}",
                    if plan.ok {
                        changes.join(", ")
                    } else {
                        "its refresh fails".into()
                    }
                ));
            }
        }
        for v in found {
            self.violation(v);
        }
    }

    // ------------------------------------------------ commands

    fn run(&mut self, op: &Op) {
        match op {
            Op::Edit(..) => {
                edit(&mut self.w.config, op);
                self.w.declare_config();
            }
            Op::Move { .. } => {
                if !edit(&mut self.w.config, op) {
                    self.log("    (nothing to move)".into());
                }
                self.w.declare_config();
            }
            Op::ByHand(d) => self.drift(*d),
            Op::Taint(r) => {
                if self.w.state[*r].current.is_some() {
                    self.w.state[*r].tainted = true;
                } else {
                    self.log("    error: no such object".into());
                }
            }
            Op::Import(r) => {
                self.start(None);
                if self.w.config[*r].is_none() || self.w.state[*r].current.is_some() {
                    self.log("    error: not configured, or already managed".into());
                    return;
                }
                match self.import_obj() {
                    Ok(obj) => {
                        self.log(format!("    imported: {}", obj.brief()));
                        self.check_record(ADDRS[*r], &obj);
                        self.w.state[*r].current = Some(obj);
                        self.w.state[*r].tainted = false;
                    }
                    Err(e) => self.log(format!("    error: {e}")),
                }
            }
            Op::Destroy { fault, schedule } => {
                self.start(*fault);
                let plan = self.plan_walk(None, None, true);
                if plan.ok {
                    self.apply_walk(&plan, *schedule);
                }
            }
            Op::Apply(a) => self.apply(a, false),
            Op::SavedPlan(a) => self.apply(a, true),
        }
    }

    fn apply(&mut self, a: &ApplyArgs, saved: bool) {
        self.start(if saved { None } else { a.fault });
        self.c.truth = self.w.config.map(|c| c.map_or(0, |c| c.declares()));
        let mut plan = self.plan_walk(a.replace, a.import, false);
        if !plan.ok {
            return;
        }
        if plan.empty() {
            self.w.state = plan.state;
            self.check_success();
            for d in &a.between {
                self.drift(*d);
            }
            return;
        }
        if saved {
            // `terraform apply tfplan`: another invocation, with its own ledger; the fault
            // is this command's.
            self.new_invocation();
            self.c.fault = a.fault;
            self.c.reads = 0;
            self.c.writes = 0;
        }
        for d in &a.between {
            self.drift(*d);
            for inst in &mut plan.state {
                inst.current.iter_mut().for_each(|o| o.sure = false);
                inst.deposed.iter_mut().for_each(|(_, o)| o.sure = false);
            }
        }
        self.apply_walk(&plan, a.schedule);
        if !self.c.errors {
            self.check_success();
        } else {
            self.log(format!("    exit 1; cluster {}", show(self.w.synced)));
        }
    }
}

/// Applies a configuration edit; false when it changes nothing (a move that cannot be).
fn edit(config: &mut [Option<ResCfg>; 3], op: &Op) -> bool {
    match op {
        Op::Edit(r, cfg) => config[*r] = *cfg,
        Op::Move { name, from, to } => {
            let bit = 1 << name;
            let (Some(mut f), Some(mut t)) = (config[*from], config[*to]) else {
                return false;
            };
            if from == to || f.all_sync || t.all_sync || f.names & bit == 0 || f.names == bit {
                return false;
            }
            f.names &= !bit;
            t.names |= bit;
            config[*from] = Some(f);
            config[*to] = Some(t);
        }
        _ => return false,
    }
    true
}

/// Whether some configuration of the case has two resources declare one name.
fn overlaps(case: &Case) -> bool {
    let mut config = case.config;
    let overlap = |c: &[Option<ResCfg>; 3]| {
        let d: Vec<Set> = c.iter().flatten().map(ResCfg::declares).collect();
        (0..d.len()).any(|i| (i + 1..d.len()).any(|j| d[i] & d[j] != 0))
    };
    overlap(&config)
        || case.ops.iter().any(|op| {
            edit(&mut config, op);
            overlap(&config)
        })
}

/// Whether the case imports, by `terraform import` or an import block.
fn imports(case: &Case) -> bool {
    case.ops.iter().any(|op| match op {
        Op::Import(_) => true,
        Op::Apply(a) | Op::SavedPlan(a) => a.import.is_some(),
        _ => false,
    })
}

/// Whether some configuration of the case is all-sync.
fn all_syncs(case: &Case) -> bool {
    case.config.iter().flatten().any(|r| r.all_sync)
        || case
            .ops
            .iter()
            .any(|op| matches!(op, Op::Edit(_, Some(r)) if r.all_sync))
}

fn set_deposed(inst: &mut Inst, k: u32, new: Option<Obj>) {
    if let Some(i) = inst.deposed.iter().position(|(key, _)| *key == k) {
        match new {
            Some(o) => inst.deposed[i].1 = o,
            None => {
                inst.deposed.remove(i);
            }
        }
    }
}

/// Runs a case under rule `R`: Err with the violations and what happened.
fn check<R: Rule>(case: &Case) -> Result<(), String> {
    let mut m = Model::<R>::new(case);
    for (i, op) in case.ops.iter().enumerate() {
        m.log(format!("{}. {op:?}", i + 1));
        m.run(op);
        if !m.violations.is_empty() {
            return Err(format!(
                "{}\n\nWhat happened (rule {}):\n{}",
                m.violations.join("\n"),
                R::NAME,
                m.log.join("\n")
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- generators

fn name_set() -> impl Strategy<Value = Set> {
    prop::collection::vec(0u8..8, 1..=3).prop_map(|v| v.iter().fold(0, |a, i| a | 1 << i))
}

fn res_cfg() -> impl Strategy<Value = ResCfg> {
    (
        name_set(),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.35),
    )
        .prop_map(|(names, all_sync, cbd)| ResCfg {
            names: if all_sync { 0 } else { names },
            all_sync,
            cbd,
        })
}

fn fault() -> impl Strategy<Value = Option<Fault>> {
    let kind = prop_oneof![
        Just(FaultKind::Refused),
        Just(FaultKind::LostReply),
        (any::<bool>(), any::<bool>())
            .prop_map(|(sent, finished)| FaultKind::Interrupt { sent, finished }),
        any::<bool>().prop_map(|finished| FaultKind::Timeout { finished }),
        Just(FaultKind::ReadFails),
    ];
    prop::option::weighted(
        0.4,
        (0u8..4, kind).prop_map(|(nth, kind)| Fault { nth, kind }),
    )
}

fn drift() -> impl Strategy<Value = Drift> {
    (0u8..8, any::<bool>()).prop_map(|(n, cancel)| {
        if cancel {
            Drift::Cancel(n)
        } else {
            Drift::Sync(n)
        }
    })
}

fn schedule() -> impl Strategy<Value = u64> {
    prop_oneof![3 => Just(0u64), 1 => any::<u64>()]
}

fn apply_args() -> impl Strategy<Value = ApplyArgs> {
    (
        prop::option::weighted(0.15, 0usize..3),
        prop::option::weighted(0.1, 0usize..3),
        prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(drift(), 1..=2)],
        fault(),
        schedule(),
    )
        .prop_map(|(replace, import, between, fault, schedule)| ApplyArgs {
            replace,
            import,
            between,
            fault,
            schedule,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => apply_args().prop_map(Op::Apply),
        2 => apply_args().prop_map(Op::SavedPlan),
        3 => (0usize..3, prop::option::weighted(0.8, res_cfg())).prop_map(|(r, c)| Op::Edit(r, c)),
        1 => (0u8..8, 0usize..3, 0usize..3).prop_map(|(name, from, to)| Op::Move { name, from, to }),
        1 => (fault(), schedule()).prop_map(|(fault, schedule)| Op::Destroy { fault, schedule }),
        2 => (0usize..3).prop_map(Op::Import),
        1 => (0usize..3).prop_map(Op::Taint),
        1 => drift().prop_map(Op::ByHand),
    ]
}

/// Operation families the search can leave out (`LIFECYCLE_WITHOUT=saved,drift`), to look
/// past a counterexample already known: the invariants stay as they are.
#[derive(Clone, Copy, Default)]
struct Without {
    saved: bool,
    drift: bool,
    alias: bool,
    faults: bool,
    timeouts: bool,
    import: bool,
    all_sync: bool,
    cbd: bool,
}

impl Without {
    /// Unset, the families whose counterexamples are known and open (docs/reliability.md,
    /// "Known limits": a saved plan's apply has no ledger; an all-sync object cannot see a
    /// name go missing) are left out; `LIFECYCLE_WITHOUT=` (empty) searches everything.
    fn from_env() -> Without {
        let v = std::env::var("LIFECYCLE_WITHOUT").unwrap_or_else(|_| "saved,all_sync".to_string());
        let has = |w: &str| v.split(',').any(|x| x.trim() == w);
        Without {
            saved: has("saved"),
            drift: has("drift"),
            alias: has("alias"),
            faults: has("faults"),
            timeouts: has("timeouts"),
            import: has("import"),
            all_sync: has("all_sync"),
            cbd: has("cbd"),
        }
    }

    fn cfg(&self, c: Option<ResCfg>) -> Option<ResCfg> {
        c.map(|mut c| {
            if self.all_sync && c.all_sync {
                c = ResCfg {
                    names: 1,
                    all_sync: false,
                    cbd: c.cbd,
                };
            }
            c.cbd &= !self.cbd;
            c
        })
    }

    fn addr(&self, r: usize) -> usize {
        if self.alias && r == 2 {
            1
        } else {
            r
        }
    }

    fn fault(&self, f: Option<Fault>) -> Option<Fault> {
        f.filter(|f| !(self.faults || self.timeouts && matches!(f.kind, FaultKind::Timeout { .. })))
    }

    fn args(&self, mut a: ApplyArgs) -> ApplyArgs {
        if self.drift {
            a.between.clear();
        }
        a.fault = self.fault(a.fault);
        if self.import {
            a.import = None;
        }
        a.replace = a.replace.map(|r| self.addr(r));
        a.import = a.import.map(|r| self.addr(r));
        a
    }

    fn case(&self, mut c: Case) -> Case {
        if self.alias {
            c.config[2] = None;
        }
        c.config = c.config.map(|x| self.cfg(x));
        c.ops = c
            .ops
            .into_iter()
            .filter_map(|op| {
                Some(match op {
                    Op::Edit(r, cfg) => Op::Edit(self.addr(r), self.cfg(cfg)),
                    Op::Move { name, from, to } => Op::Move {
                        name,
                        from: self.addr(from),
                        to: self.addr(to),
                    },
                    Op::Apply(a) => Op::Apply(self.args(a)),
                    Op::SavedPlan(a) if self.saved => Op::Apply(self.args(a)),
                    Op::SavedPlan(a) => Op::SavedPlan(self.args(a)),
                    Op::Destroy { fault, schedule } => Op::Destroy {
                        fault: self.fault(fault),
                        schedule,
                    },
                    Op::Import(_) if self.import => return None,
                    Op::Import(r) => Op::Import(self.addr(r)),
                    Op::Taint(r) => Op::Taint(self.addr(r)),
                    Op::ByHand(_) if self.drift => return None,
                    op => op,
                })
            })
            .collect();
        c
    }
}

fn case() -> impl Strategy<Value = Case> {
    let without = Without::from_env();
    (
        prop::bool::weighted(0.2),
        any::<u8>(),
        prop::option::weighted(0.9, res_cfg()),
        prop::option::weighted(0.5, res_cfg()),
        prop::option::weighted(0.5, res_cfg()),
        prop::collection::vec(op(), 1..=10),
    )
        .prop_map(move |(no_frank, initial, a, b, c, ops)| {
            let iam = if no_frank { EVERY & !FRANK } else { EVERY };
            without.case(Case {
                iam,
                initial: initial & iam,
                config: [a, b, c],
                ops,
            })
        })
}

// ---------------------------------------------------------------- the tests

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs random sequences under rule `R`: the shrunk counterexample among those `counts`
/// accepts, if any, and why `R` fails it.
fn search<R: Rule>(
    runner: &mut TestRunner,
    counts: impl Fn(&Case) -> bool,
) -> Option<(Case, String)> {
    let outcome = runner.run(&case(), |c| match check::<R>(&c) {
        Err(why) if counts(&c) => Err(TestCaseError::fail(why)),
        _ => Ok(()),
    });
    match outcome {
        Ok(()) => None,
        Err(TestError::Fail(why, case)) => Some((case, why.to_string())),
        Err(e) => panic!("{e}"),
    }
}

/// The property: every random sequence keeps I1-I4 under the current rule.
/// `PROPTEST_CASES` runs more; `LIFECYCLE_WITHOUT=saved,all_sync,timeouts` (also `drift`,
/// `alias`, `faults`, `import`, `cbd`) leaves families of operations out of the search, to
/// look past a counterexample already known.
#[test]
fn lifecycle_keeps_the_rule_of_the_shared_cluster() {
    let n = cases(5000);
    let started = Instant::now();
    let found = search::<Current>(&mut TestRunner::new(config(n)), |_| true);
    let took = started.elapsed();
    eprintln!(
        "lifecycle: {n} sequences in {took:.1?} ({:.0}/s)",
        f64::from(n) / took.as_secs_f64()
    );
    if let Some((case, why)) = found {
        panic!("counterexample, shrunk:{case:?}\n{why}");
    }
}

/// The rule before this one (ba6b0d4) fails sequences the current rule holds: a
/// replacement after an import, an all-sync replacement and a deposed object's cleanup
/// among them. Each focus searches one kind of sequence from a few seeds
/// (`LIFECYCLE_PRE_SEEDS`), so that the cases two resources sharing a name find at once do
/// not hide the others.
#[test]
fn lifecycle_finds_what_the_rule_before_it_got_wrong() {
    let seeds: u8 = std::env::var("LIFECYCLE_PRE_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    // The last two find cases 2 and 3, whose sequences need more steps: more cases.
    type Focus = (&'static str, fn(&Case) -> bool, u32);
    let focuses: [Focus; 4] = [
        ("any sequence", |_| true, 1),
        ("no name declared twice", |c| !overlaps(c), 1),
        (
            "no name declared twice, no import",
            |c| !overlaps(c) && !imports(c),
            5,
        ),
        (
            "no name declared twice, no import, no all-sync",
            |c| !overlaps(c) && !imports(c) && !all_syncs(c),
            5,
        ),
    ];
    let mut found = Vec::new();
    for (focus, counts, more) in focuses {
        for seed in 0..seeds {
            let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
            let mut runner = TestRunner::new_with_rng(config(cases(3000) * more), rng);
            let counted = search::<Pre>(&mut runner, |c| counts(c) && check::<Current>(c).is_ok());
            if let Some((case, why)) = counted {
                let first = why.lines().next().unwrap_or_default().to_string();
                eprintln!("{focus}, seed {seed}: {first}{case:?}");
                found.push(first);
            }
        }
    }
    assert!(
        !found.is_empty(),
        "the model found nothing the rule of ba6b0d4 gets wrong"
    );
}

/// Issue 26's cases 1-3 as the issue tells them: the rule of ba6b0d4 fails each, the
/// current rule holds.
#[test]
fn lifecycle_replays_the_corners_the_rule_before_it_got_wrong() {
    const ALICE: Set = 1;
    const BOB: Set = 2;
    const CAROL: Set = 4;
    const DATA_ENG: Set = 0b0100_0000;
    let a = |names, all_sync, cbd| {
        Some(ResCfg {
            names,
            all_sync,
            cbd,
        })
    };
    let apply = |replace, fault| {
        Op::Apply(ApplyArgs {
            replace,
            import: None,
            between: Vec::new(),
            fault,
            schedule: 0,
        })
    };
    let held = ALICE | BOB | CAROL | DATA_ENG;
    let cases = [
        (
            "1: replacement right after an import",
            Case {
                iam: EVERY,
                initial: held,
                config: [a(ALICE, false, false), None, None],
                ops: vec![Op::Import(0), apply(Some(0), None)],
            },
        ),
        (
            "1: replacement (create_before_destroy) right after an import",
            Case {
                iam: EVERY,
                initial: held,
                config: [a(ALICE, false, true), None, None],
                ops: vec![Op::Import(0), apply(Some(0), None)],
            },
        ),
        (
            "1: destroy right after an import",
            Case {
                iam: EVERY,
                initial: held,
                config: [a(ALICE, false, false), None, None],
                ops: vec![
                    Op::Import(0),
                    Op::Destroy {
                        fault: None,
                        schedule: 0,
                    },
                ],
            },
        ),
        (
            "2: is_all_sync with create_before_destroy, replaced",
            Case {
                iam: EVERY,
                initial: 0,
                config: [a(0, true, true), None, None],
                ops: vec![apply(None, None), apply(Some(0), None)],
            },
        ),
        (
            "3: a deposed object's cleanup cancels what the live object declares",
            Case {
                iam: EVERY,
                initial: CAROL,
                config: [a(ALICE | BOB, false, true), None, None],
                ops: vec![
                    apply(None, None),
                    Op::Edit(0, a(ALICE, false, true)),
                    apply(
                        Some(0),
                        Some(Fault {
                            nth: 1,
                            kind: FaultKind::Refused,
                        }),
                    ),
                    apply(None, None),
                ],
            },
        ),
    ];
    for (name, case) in cases {
        let pre = check::<Pre>(&case);
        assert!(
            pre.is_err(),
            "case {name}: the rule of ba6b0d4 holds{case:?}"
        );
        if let Err(why) = check::<Current>(&case) {
            panic!("case {name}: the current rule fails{case:?}\n{why}");
        }
        let first = pre.err().unwrap_or_default();
        eprintln!(
            "case {name}: ba6b0d4 fails: {}",
            first.lines().next().unwrap_or_default()
        );
    }
}

/// What the model found in the rule as first landed: turning is_all_sync on kept the names
/// held before in a state whose configuration lists none, a change planned after every
/// apply (I4). Fixed in `ownership::record::record_after`.
#[test]
fn lifecycle_turning_is_all_sync_on_plans_clean() {
    let apply = || {
        Op::Apply(ApplyArgs {
            replace: None,
            import: None,
            between: Vec::new(),
            fault: None,
            schedule: 0,
        })
    };
    let cfg = |names, all_sync| {
        Some(ResCfg {
            names,
            all_sync,
            cbd: false,
        })
    };
    let case = Case {
        iam: EVERY,
        initial: 0,
        config: [cfg(1, false), None, None],
        ops: vec![apply(), Op::Edit(0, cfg(0, true)), apply()],
    };
    if let Err(why) = check::<Current>(&case) {
        panic!("{case:?}\n{why}");
    }
}
