// Vocabularies of the UN Framework of Analysis for Atrocity Crimes (2014).

/// The Framework's 14 risk factors: 1–8 common to all atrocity crimes, 9–10 specific to genocide,
/// 11–12 to crimes against humanity, 13–14 to war crimes.
public enum RiskFactor: Int, RecordVocabulary {
    case armedConflictOrInstability = 1
    case recordOfSeriousViolations
    case weaknessOfStateStructures
    case motivesOrIncentives
    case capacityToCommit
    case absenceOfMitigatingFactors
    case enablingCircumstances
    case triggeringFactors
    case intergroupTensions
    case intentToDestroy
    case widespreadOrSystematicAttack
    case planOrPolicyToAttack
    case threatsToProtectedPersons
    case threatsToHumanitarianOperations

    public var label: String {
        switch self {
        case .armedConflictOrInstability: "Situations of armed conflict or other forms of instability"
        case .recordOfSeriousViolations:
            "Record of serious violations of international human rights and humanitarian law"
        case .weaknessOfStateStructures: "Weakness of State structures"
        case .motivesOrIncentives: "Motives or incentives"
        case .capacityToCommit: "Capacity to commit atrocity crimes"
        case .absenceOfMitigatingFactors: "Absence of mitigating factors"
        case .enablingCircumstances: "Enabling circumstances or preparatory action"
        case .triggeringFactors: "Triggering factors"
        case .intergroupTensions: "Intergroup tensions or patterns of discrimination against protected groups"
        case .intentToDestroy: "Signs of an intent to destroy in whole or in part a protected group"
        case .widespreadOrSystematicAttack: "Signs of a widespread or systematic attack against any civilian population"
        case .planOrPolicyToAttack: "Signs of a plan or policy to attack any civilian population"
        case .threatsToProtectedPersons: "Serious threats to those protected under international humanitarian law"
        case .threatsToHumanitarianOperations: "Serious threats to humanitarian or peacekeeping operations"
        }
    }

    public static var allowedText: String { "a risk factor number from 1 to 14 (UN Framework of Analysis)" }
}

/// A Framework indicator, `<risk factor>.<number>` such as `7.6` or `9.1`.
public enum Indicator {
    static let allowed = "an indicator 'F.N' of the UN Framework, F a risk factor 1-14 and N 1-99, such as '7.6'"

    /// The risk factor `text` belongs to, or nil when it is not an indicator.
    public static func riskFactor(of text: String) -> RiskFactor? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let factor = Int(parts[0]), String(factor) == parts[0],
            let number = Int(parts[1]), String(number) == parts[1], (1...99).contains(number)
        else { return nil }
        return RiskFactor(rawValue: factor)
    }
}

/// The crime the Framework's specific risk factors point to: a hint for analysts, never a legal finding.
public enum CrimeCategoryHint: String, RecordVocabulary {
    case genocide
    case crimesAgainstHumanity = "crimes_against_humanity"
    case warCrimes = "war_crimes"
    case none
}
