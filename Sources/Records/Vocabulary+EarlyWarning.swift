// Vocabularies of the early-warning systems (ECOWARN/WANEP, AU CEWS) and of evidence practice.

/// How an observation was reported: ECOWARN/WANEP incident and situation reporting, plus the
/// Sentinel Project's rumour line and warning signals.
public enum ReportKind: String, RecordVocabulary {
    case incident
    case situationUpdate = "situation_update"
    case rumour
    case warningSignal = "warning_signal"
}

/// ECOWARN's five human-security sectors.
public enum ThematicSector: String, RecordVocabulary {
    case crimeAndCriminality = "crime_and_criminality"
    case securityAndViolentExtremism = "security_and_violent_extremism"
    case governanceAndHumanRights = "governance_and_human_rights"
    case health
    case environment
}

/// How the observer came to know what they report (ACLED source types and the network's reporters).
public enum ObservationMode: String, RecordVocabulary {
    case direct
    case witnessAccount = "witness_account"
    case communityLeader = "community_leader"
    case religiousLeader = "religious_leader"
    case ngoMonitor = "ngo_monitor"
    case media
    case official
    case socialMedia = "social_media"
}

/// The role of an attached file (Berkeley Protocol: the evidentiary original is never altered).
public enum AttachmentRole: String, RecordVocabulary {
    case evidentiaryOriginal = "evidentiary_original"
    case workingCopy = "working_copy"
    case derived
}

/// A graded level used by several records: an observation's derived severity, a situation's
/// overall risk, a scenario's likelihood, a risk factor's confidence.
public enum Level: String, RecordVocabulary, Comparable {
    case low, medium, high, critical

    public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rank < rhs.rank }
    var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}

/// An analyst's confidence in an assessment.
public enum Confidence: String, RecordVocabulary {
    case low, medium, high
}

/// The direction a risk factor is moving in over the situation's period.
public enum Trend: String, RecordVocabulary {
    case increasing, stable, decreasing
}

/// What kind of member organisation a participant is (AU CEWS mandate, the network brief).
public enum ParticipantKind: String, RecordVocabulary {
    case state
    case intergovernmental
    case regionalMechanism = "regional_mechanism"
    case ngo
    case research
    case faithBased = "faith_based"
    case other
}

/// A participant's standing in the network.
public enum ParticipantStatus: String, RecordVocabulary {
    case active, suspended, left
}

/// The roles a focal point or member plays (ECOWARN field monitors, ODK and Tella roles).
public enum MemberRole: String, RecordVocabulary {
    case observer
    case focalPoint = "focal_point"
    case analyst
    case verifier
    case publisher
    case `operator`
    case admin
}

/// How a focal point can be reached.
public enum ContactChannel: String, RecordVocabulary {
    case phone, email, sms, signal, whatsapp, radio, other
}
