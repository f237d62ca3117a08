/// How two causal histories relate.
public enum CausalOrder: Sendable, Hashable {
    /// The left side saw less: everything it saw, the right side saw too, and more.
    case before
    /// The left side saw more.
    case after
    /// Both saw exactly the same.
    case equal
    /// Each saw something the other did not.
    case concurrent
}
