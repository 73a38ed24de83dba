//! `kokeilu rules`: the trial rules as JSON, for operators and integrators' own test suites.
//! Exit code 0 with JSON on stdout for an answer (an invalid henkilötunnus is an answer:
//! `"valid": false` with the reason); non-zero with a message on stderr for unusable input.

use std::io::Read;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Subcommand;
use kokeilu_rules::competence::{StatementSubject, competence};
use kokeilu_rules::eligibility::{JobseekerFacts, evaluate};
use kokeilu_rules::hetu::Hetu;
use kokeilu_rules::registry::Registry;
use kokeilu_rules::{deadlines, workdays};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check a henkilötunnus: valid or the reason, birth date, century sign, temporary number.
    Hetu { code: String },
    /// Working days (weekends, public holidays, Midsummer Eve and Christmas Eve excluded).
    #[command(subcommand)]
    Workdays(WorkdaysCommand),
    /// Jobseeker facts as JSON on stdin → the decision with grounds, area and rule version.
    Eligibility {
        /// Evaluation date (default: today).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// Who may issue a labour-policy statement on SUBJECT on DATE.
    StatementCompetence { subject: String, date: NaiveDate },
    /// The deadlines a trial area owes a referred client whose job search started on DATE: each
    /// with the day its period starts, the rule and section, and whether it rests on an
    /// interpretation. None falls before the area received the client (1269/2020 24 §).
    Deadlines {
        job_search_start: NaiveDate,
        /// The day the area received the referral (default: the job-search start).
        #[arg(long)]
        received: Option<NaiveDate>,
        /// The day the TE office held the initial interview of this job search, if it did.
        #[arg(long)]
        te_interview: Option<NaiveDate>,
        /// The day the previous job search ended, if any (the 6-month rule).
        #[arg(long)]
        previous_job_search_end: Option<NaiveDate>,
        /// The day the area held the initial interview (adds the discussions that follow it).
        #[arg(long)]
        initial_interview: Option<NaiveDate>,
        /// The operational acknowledgement period in working days.
        #[arg(long, default_value_t = 2)]
        ack_working_days: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkdaysCommand {
    /// The date N working days after DATE.
    Add { date: NaiveDate, n: u32 },
    /// Working days after FROM up to and including TO.
    Between { from: NaiveDate, to: NaiveDate },
}

fn print(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn run(cmd: RulesCommand) -> anyhow::Result<()> {
    match cmd {
        RulesCommand::Hetu { code } => match Hetu::parse(&code) {
            Ok(h) => print(&json!({
                "valid": true,
                "birth_date": h.birth_date(),
                "century_sign": h.century_sign().to_string(),
                "individual_number": h.individual_number(),
                "temporary": h.is_temporary(),
            })),
            Err(e) => print(&json!({ "valid": false, "reason": e.to_string() })),
        },
        RulesCommand::Workdays(WorkdaysCommand::Add { date, n }) => print(&json!({
            "date": date,
            "working_days": n,
            "result": workdays::add_working_days(date, n),
        })),
        RulesCommand::Workdays(WorkdaysCommand::Between { from, to }) => print(&json!({
            "from": from,
            "to": to,
            "working_days": workdays::working_days_between(from, to),
        })),
        RulesCommand::Eligibility { date } => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input)?;
            let facts: JobseekerFacts = serde_json::from_str(&input)
                .context("jobseeker facts on stdin are not valid JSON facts")?;
            let on =
                date.unwrap_or_else(|| kokeilu_platform::clock::finnish_date(chrono::Utc::now()));
            let decision = evaluate(Registry::builtin(), &facts, on)?;
            print(&decision)
        }
        RulesCommand::StatementCompetence { subject, date } => {
            let subject: StatementSubject =
                serde_json::from_value(json!(subject)).map_err(|_| {
                    let names: Vec<String> = StatementSubject::ALL
                        .iter()
                        .filter_map(|s| serde_json::to_value(s).ok())
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect();
                    anyhow::anyhow!("unknown statement subject; one of: {}", names.join(", "))
                })?;
            print(&competence(subject, date))
        }
        RulesCommand::Deadlines {
            job_search_start,
            received,
            te_interview,
            previous_job_search_end,
            initial_interview,
            ack_working_days,
        } => print(&deadlines::explain(&deadlines::Case {
            job_search_start,
            received: received.unwrap_or(job_search_start),
            te_office_held: te_interview,
            previous_job_search_ended: previous_job_search_end,
            ack_working_days,
            initial_interview_held: initial_interview,
        })),
    }
}
