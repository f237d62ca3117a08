// Vocabularies of ACLED's event data (codebook, see Docs/DataModel.md): what happened, to whom, where.

/// ACLED's six event types.
public enum EventType: String, RecordVocabulary {
    case battles = "Battles"
    case violenceAgainstCivilians = "Violence against civilians"
    case explosionsRemoteViolence = "Explosions/Remote violence"
    case protests = "Protests"
    case riots = "Riots"
    case strategicDevelopments = "Strategic developments"

    /// The sub-event types ACLED codes under this event type.
    public var subEventTypes: [SubEventType] { SubEventType.allCases.filter { $0.eventType == self } }
}

/// ACLED's 25 sub-event types, each under one event type.
public enum SubEventType: String, RecordVocabulary {
    case armedClash = "Armed clash"
    case governmentRegainsTerritory = "Government regains territory"
    case nonStateActorOvertakesTerritory = "Non-state actor overtakes territory"
    case sexualViolence = "Sexual violence"
    case attack = "Attack"
    case abductionForcedDisappearance = "Abduction/forced disappearance"
    case chemicalWeapon = "Chemical weapon"
    case airDroneStrike = "Air/drone strike"
    case suicideBomb = "Suicide bomb"
    case shellingArtilleryMissileAttack = "Shelling/artillery/missile attack"
    case remoteExplosiveLandmineIED = "Remote explosive/landmine/IED"
    case grenade = "Grenade"
    case peacefulProtest = "Peaceful protest"
    case protestWithIntervention = "Protest with intervention"
    case excessiveForceAgainstProtesters = "Excessive force against protesters"
    case violentDemonstration = "Violent demonstration"
    case mobViolence = "Mob violence"
    case agreement = "Agreement"
    case arrests = "Arrests"
    case changeToGroupActivity = "Change to group/activity"
    case disruptedWeaponsUse = "Disrupted weapons use"
    case headquartersOrBaseEstablished = "Headquarters or base established"
    case lootingPropertyDestruction = "Looting/property destruction"
    case nonViolentTransferOfTerritory = "Non-violent transfer of territory"
    case other = "Other"

    /// The event type this sub-event type belongs to.
    public var eventType: EventType {
        switch self {
        case .armedClash, .governmentRegainsTerritory, .nonStateActorOvertakesTerritory: .battles
        case .sexualViolence, .attack, .abductionForcedDisappearance: .violenceAgainstCivilians
        case .chemicalWeapon, .airDroneStrike, .suicideBomb, .shellingArtilleryMissileAttack,
            .remoteExplosiveLandmineIED, .grenade:
            .explosionsRemoteViolence
        case .peacefulProtest, .protestWithIntervention, .excessiveForceAgainstProtesters: .protests
        case .violentDemonstration, .mobViolence: .riots
        case .agreement, .arrests, .changeToGroupActivity, .disruptedWeaponsUse, .headquartersOrBaseEstablished,
            .lootingPropertyDestruction, .nonViolentTransferOfTerritory, .other:
            .strategicDevelopments
        }
    }
}

/// ACLED's actor type ("inter") codes. An event's interaction code joins its two actors' codes,
/// lower first (17: state forces against civilians).
public enum ActorType: Int, RecordVocabulary {
    case stateForces = 1
    case rebelGroup, politicalMilitia, identityMilitia, rioters, protesters, civilians, externalOrOther

    public var label: String {
        switch self {
        case .stateForces: "State forces"
        case .rebelGroup: "Rebel groups"
        case .politicalMilitia: "Political militias"
        case .identityMilitia: "Identity militias"
        case .rioters: "Rioters"
        case .protesters: "Protesters"
        case .civilians: "Civilians"
        case .externalOrOther: "External/Other forces"
        }
    }

    /// ACLED's interaction code for an event between `first` and `second` (one actor: 10 × code).
    public static func interaction(_ first: ActorType, _ second: ActorType?) -> Int {
        guard let second else { return first.rawValue * 10 }
        let (low, high) = first.rawValue <= second.rawValue ? (first, second) : (second, first)
        return low.rawValue * 10 + high.rawValue
    }
}

/// ACLED's `time_precision`: how exactly the event date is known.
public enum TimePrecision: Int, RecordVocabulary {
    case exactDate = 1
    case weekOrWeekend, monthOrLonger

    public var label: String {
        switch self {
        case .exactDate: "the actual date"
        case .weekOrWeekend: "a specific week or weekend"
        case .monthOrLonger: "only the month or a longer period"
        }
    }
}

/// ACLED's `geo_precision`: how exactly the coordinates locate the event.
public enum GeoPrecision: Int, RecordVocabulary {
    case town = 1
    case nearTown, region

    public var label: String {
        switch self {
        case .town: "the particular town or place"
        case .nearTown: "part of a region, or near a town"
        case .region: "a larger part of the region, placed at its capital or centre"
        }
    }
}

/// ACLED's `source_scale`: the reach of the source that reported the event.
public enum SourceScale: String, RecordVocabulary {
    case local, regional, national, international
}
