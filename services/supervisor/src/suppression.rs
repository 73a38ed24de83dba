//! Disclosure control of the open statistics: primary suppression of small counts, and secondary
//! suppression so that a hidden count cannot be recovered by subtraction from totals.
//!
//! A published table is a set of cells (counts) and additive relations between them, the
//! [`Group`]s: a total equals the sum of its members. The area's referrals of a month are the sum
//! of its municipalities' referrals, and also the sum of the acknowledged, the rejected and the
//! undecided referrals; the undecided are never published, but they are in the relation, so they
//! are a cell too ([`Table::unpublished`]).
//!
//! The rule:
//!
//! 1. **Primary**: a count from 1 to [`SUPPRESS_BELOW`]` - 1` is suppressed (zero is shown).
//! 2. **Secondary**: in each group whose total is shown and which has a suppressed member, the
//!    hidden members must leave every suppressed one undetermined. Someone who knows the rule
//!    knows that a suppressed count is not zero, so each hidden member `i` is at least `lb(i)`
//!    (1; 0 for a never-published cell), and the hidden members add up to `S` = the total minus
//!    the shown members. A suppressed member is then determined exactly when it is the only
//!    hidden member, or when the slack `S - Σ lb` is zero (every hidden member sits at its lower
//!    bound). While a group is in either state, its smallest shown non-zero member is suppressed
//!    as well (a shown non-zero count is at least 5, so one more adds at least 4 to the slack);
//!    if it has none, its total is suppressed. Suppressing a cell can expose a group the cell is
//!    a member of, so the step repeats until no group changes.
//! 3. **Audit**: the combined relations can still pin a cell that each group alone leaves open
//!    (an upper bound from one group meeting a lower bound from another). [`Table::protect`]
//!    therefore propagates the bounds of every hidden cell through all groups, as someone
//!    subtracting published figures would, and suppresses more around any suppressed cell whose
//!    bounds meet, until none does.
//!
//! Secondary suppressions are shown exactly like primary ones (`null`, `..`), so a hidden cell
//! does not say whether it is small.

use std::collections::BTreeSet;

/// Counts from 1 to `SUPPRESS_BELOW - 1` are suppressed.
pub const SUPPRESS_BELOW: u32 = 5;

/// How a cell is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Shown,
    /// A small count.
    Primary,
    /// Hidden so that a small count cannot be derived.
    Secondary,
    /// Part of a relation, never published (the undecided referrals).
    Unpublished,
}

/// `total = Σ members`.
#[derive(Debug, Clone)]
pub struct Group {
    pub total: usize,
    pub members: Vec<usize>,
}

/// Cells and their additive relations.
#[derive(Debug, Clone, Default)]
pub struct Table {
    values: Vec<u32>,
    states: Vec<State>,
    groups: Vec<Group>,
}

/// The bounds of a cell an outsider can derive: `[lo, hi]`, `hi = None` for unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub lo: u64,
    pub hi: Option<u64>,
}

impl Bounds {
    fn pinned(&self) -> bool {
        self.hi == Some(self.lo)
    }
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    /// A published cell.
    pub fn cell(&mut self, value: u32) -> usize {
        self.values.push(value);
        self.states.push(State::Shown);
        self.values.len() - 1
    }

    /// A cell that is in a relation but never published.
    pub fn unpublished(&mut self, value: u32) -> usize {
        self.values.push(value);
        self.states.push(State::Unpublished);
        self.values.len() - 1
    }

    /// Declares `total = Σ members`.
    pub fn group(&mut self, total: usize, members: Vec<usize>) {
        debug_assert_eq!(
            u64::from(self.values[total]),
            members
                .iter()
                .map(|&m| u64::from(self.values[m]))
                .sum::<u64>(),
            "a group's members add up to its total"
        );
        self.groups.push(Group { total, members });
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    pub fn value(&self, cell: usize) -> u32 {
        self.values[cell]
    }

    pub fn state(&self, cell: usize) -> State {
        self.states[cell]
    }

    /// The published value: `None` when suppressed (or never published).
    pub fn shown(&self, cell: usize) -> Option<u32> {
        (self.states[cell] == State::Shown).then_some(self.values[cell])
    }

    /// Whether the cell is published as a number of people that was suppressed.
    pub fn suppressed(&self, cell: usize) -> bool {
        matches!(self.states[cell], State::Primary | State::Secondary)
    }

    fn hidden(&self, cell: usize) -> bool {
        self.states[cell] != State::Shown
    }

    /// What an outsider knows of a hidden cell before any subtraction.
    fn lower_bound(&self, cell: usize) -> u64 {
        match self.states[cell] {
            State::Shown => u64::from(self.values[cell]),
            State::Unpublished => 0,
            State::Primary | State::Secondary => 1,
        }
    }

    fn hide(&mut self, cell: usize) {
        if self.states[cell] == State::Shown {
            self.states[cell] = State::Secondary;
        }
    }

    /// Applies the rule of the module documentation.
    pub fn protect(&mut self) {
        for (v, s) in self.values.iter().zip(self.states.iter_mut()) {
            if *s == State::Shown && *v > 0 && *v < SUPPRESS_BELOW {
                *s = State::Primary;
            }
        }
        loop {
            while self.secondary_step() {}
            let pinned = self.pinned();
            if pinned.is_empty() {
                return;
            }
            // Widen around the first pinned cell: hide the smallest shown non-zero cell of a
            // group it is in (the total if none), then re-check everything.
            let cell = pinned[0];
            if !self.widen(cell) {
                return;
            }
        }
    }

    /// One secondary suppression in the first exposed group; `false` if none is exposed.
    fn secondary_step(&mut self) -> bool {
        for g in 0..self.groups.len() {
            let group = &self.groups[g];
            if self.hidden(group.total) {
                continue;
            }
            let hidden: Vec<usize> = group
                .members
                .iter()
                .copied()
                .filter(|&m| self.hidden(m))
                .collect();
            if !hidden.iter().any(|&m| self.suppressed(m)) {
                continue;
            }
            let shown_sum: u64 = group
                .members
                .iter()
                .filter(|&&m| !self.hidden(m))
                .map(|&m| u64::from(self.values[m]))
                .sum();
            let rest = u64::from(self.values[group.total]).saturating_sub(shown_sum);
            let floor: u64 = hidden.iter().map(|&m| self.lower_bound(m)).sum();
            if hidden.len() >= 2 && rest > floor {
                continue;
            }
            let cell = self.smallest_shown(&group.members).unwrap_or(group.total);
            self.hide(cell);
            return true;
        }
        false
    }

    /// The shown non-zero member with the smallest count (the first of equals).
    fn smallest_shown(&self, members: &[usize]) -> Option<usize> {
        members
            .iter()
            .copied()
            .filter(|&m| !self.hidden(m) && self.values[m] > 0)
            .min_by_key(|&m| (self.values[m], m))
    }

    /// Hides one more cell next to `cell` in some group; `false` if nothing is left to hide.
    fn widen(&mut self, cell: usize) -> bool {
        let candidates: Vec<usize> = self
            .groups
            .iter()
            .filter(|g| g.total == cell || g.members.contains(&cell))
            .flat_map(|g| {
                let mut all = g.members.clone();
                all.push(g.total);
                all
            })
            .filter(|&c| !self.hidden(c) && self.values[c] > 0)
            .collect();
        match candidates.into_iter().min_by_key(|&c| (self.values[c], c)) {
            Some(c) => {
                self.hide(c);
                true
            }
            None => false,
        }
    }

    /// The suppressed cells whose value follows from the published ones.
    pub fn pinned(&self) -> Vec<usize> {
        let bounds = self.bounds();
        (0..self.values.len())
            .filter(|&c| self.suppressed(c) && bounds[c].pinned())
            .collect()
    }

    /// What an outsider derives about every cell from the published cells and the relations:
    /// each hidden cell starts at `[lower bound, ∞)` and every group narrows its members and its
    /// total from the others' bounds, until nothing changes.
    pub fn bounds(&self) -> Vec<Bounds> {
        let mut b: Vec<Bounds> = (0..self.values.len())
            .map(|c| {
                if self.hidden(c) {
                    Bounds {
                        lo: self.lower_bound(c),
                        hi: None,
                    }
                } else {
                    let v = u64::from(self.values[c]);
                    Bounds { lo: v, hi: Some(v) }
                }
            })
            .collect();
        let mut changed = true;
        while changed {
            changed = false;
            for g in &self.groups {
                let lo_sum: u64 = g.members.iter().map(|&m| b[m].lo).sum();
                let hi_sum: Option<u64> = g.members.iter().map(|&m| b[m].hi).sum();
                // The total from its members.
                let t = b[g.total];
                let t_lo = t.lo.max(lo_sum);
                let t_hi = min_opt(t.hi, hi_sum);
                if t_lo != t.lo || t_hi != t.hi {
                    b[g.total] = Bounds { lo: t_lo, hi: t_hi };
                    changed = true;
                }
                // Each member from the total and the others.
                for &m in &g.members {
                    let others_lo = lo_sum - b[m].lo;
                    let others_hi: Option<u64> = g
                        .members
                        .iter()
                        .filter(|&&o| o != m)
                        .map(|&o| b[o].hi)
                        .sum();
                    let total = b[g.total];
                    let hi = min_opt(b[m].hi, total.hi.map(|h| h.saturating_sub(others_lo)));
                    let lo = match others_hi {
                        Some(oh) => b[m].lo.max(total.lo.saturating_sub(oh)),
                        None => b[m].lo,
                    };
                    if lo != b[m].lo || hi != b[m].hi {
                        b[m] = Bounds { lo, hi };
                        changed = true;
                    }
                }
            }
        }
        b
    }

    /// The distinct states in the table (for tests and logs).
    pub fn states(&self) -> BTreeSet<String> {
        self.states.iter().map(|s| format!("{s:?}")).collect()
    }
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An area of two municipalities: referrals split by municipality and by decision.
    fn area(refs: [u32; 2], acks: [u32; 2], rejected: u32) -> (Table, Vec<usize>) {
        let mut t = Table::new();
        let total: u32 = refs.iter().sum();
        let ack_total: u32 = acks.iter().sum();
        let r = t.cell(total);
        let a = t.cell(ack_total);
        let rej = t.cell(rejected);
        let und = t.unpublished(total - ack_total - rejected);
        let mr: Vec<usize> = refs.iter().map(|&v| t.cell(v)).collect();
        let ma: Vec<usize> = acks.iter().map(|&v| t.cell(v)).collect();
        t.group(r, vec![a, rej, und]);
        t.group(r, mr.clone());
        t.group(a, ma.clone());
        for i in 0..2 {
            let not = t.unpublished(refs[i] - acks[i]);
            t.group(mr[i], vec![ma[i], not]);
        }
        let mut cells = vec![r, a, rej];
        cells.extend(mr);
        cells.extend(ma);
        (t, cells)
    }

    #[test]
    fn a_lone_small_municipality_is_not_left_to_subtraction() {
        // 3 + 9 = 12: hiding only the 3 would leave it as 12 - 9.
        let (mut t, c) = area([3, 9], [0, 0], 0);
        t.protect();
        assert_eq!(t.state(c[3]), State::Primary);
        assert_eq!(t.state(c[4]), State::Secondary);
        assert_eq!(t.shown(c[0]), Some(12));
        assert!(t.pinned().is_empty());
    }

    #[test]
    fn a_small_count_next_to_an_exact_remainder_is_protected() {
        // 6 referrals, 5 rejected: 1 acknowledged would follow from 6 - 5 and "at least one".
        let (mut t, c) = area([6, 0], [1, 0], 5);
        t.protect();
        assert!(t.suppressed(c[1]));
        assert!(t.suppressed(c[2]), "the rejected are hidden too");
        assert!(t.pinned().is_empty());
    }

    #[test]
    fn nothing_small_nothing_hidden() {
        let (mut t, c) = area([6, 9], [5, 0], 0);
        t.protect();
        assert!(c.iter().all(|&x| t.shown(x).is_some()));
    }
}
