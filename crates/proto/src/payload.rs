//! Names of the payload types carried in envelopes.

/// A protobuf message that travels inside an [`crate::common::Envelope`].
pub trait Payload: prost::Message + Default {
    /// Fully qualified protobuf name, stored in `Envelope.payload_type`.
    const TYPE: &'static str;
}

macro_rules! payload {
    ($($ty:path => $name:literal),* $(,)?) => {
        $(impl Payload for $ty {
            const TYPE: &'static str = $name;
        })*
    };
}

payload! {
    crate::referral::ReferralIssued => "kokeilu.referral.v1.ReferralIssued",
    crate::referral::ReferralReceived => "kokeilu.referral.v1.ReferralReceived",
    crate::referral::ReferralAcknowledged => "kokeilu.referral.v1.ReferralAcknowledged",
    crate::referral::ReferralRejected => "kokeilu.referral.v1.ReferralRejected",
    crate::supervision::ServiceFact => "kokeilu.supervision.v1.ServiceFact",
    crate::supervision::ComplianceEvent => "kokeilu.supervision.v1.ComplianceEvent",
    crate::supervision::SupervisoryAction => "kokeilu.supervision.v1.SupervisoryAction",
    crate::supervision::InformationAnswer => "kokeilu.supervision.v1.InformationAnswer",
}
