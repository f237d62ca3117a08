import Synchronization

/// The request-body bytes the hub holds at once, all requests together: a request reserves what
/// its body takes on the wire (its `Content-Length`, or the wire limit when it sends none) and what
/// its gzip body says it inflates to, before reading or inflating, and gives them back once
/// answered. A request that does not fit is refused (503 `busy`), so what devices send never
/// makes the hub hold more than ``capacity`` bytes of bodies.
final class BodyBudget: Sendable {
    /// The most bytes held at once.
    let capacity: Int
    private let used: Mutex<Int>

    init(capacity: Int) {
        self.capacity = capacity
        used = Mutex(0)
    }

    /// Takes `bytes` from the budget; false (nothing taken) when they do not fit.
    func reserve(_ bytes: Int) -> Bool {
        used.withLock { used in
            guard bytes <= capacity - used else { return false }
            used += bytes
            return true
        }
    }

    /// Gives back `bytes` taken by ``reserve(_:)``.
    func release(_ bytes: Int) {
        used.withLock { $0 -= bytes }
    }

    /// The bytes held now.
    var inUse: Int { used.withLock { $0 } }
}

/// What one request holds of a ``BodyBudget``; give it back with ``release()`` when answered.
final class BodyReservation {
    private let budget: BodyBudget
    private(set) var bytes = 0

    init(_ budget: BodyBudget) { self.budget = budget }

    /// Takes `more` bytes for this request, or throws 503 `busy`.
    func take(_ more: Int) throws {
        guard budget.reserve(more) else {
            throw SyncHubError(
                .busy,
                "The hub holds as many request bodies as it may at once (\(budget.capacity) bytes); try again in a moment.")
        }
        bytes += more
    }

    func release() {
        budget.release(bytes)
        bytes = 0
    }
}

extension HubConfiguration.Limits {
    /// The body budget: ``maxBufferedBodyBytes``, but never less than one largest request (the
    /// wire limit and the buffer of the largest inflated body), which could otherwise never be served.
    var bodyBudget: Int {
        max(maxBufferedBodyBytes, maxRequestBytes + Gzip.outputCapacity(size: maxDecompressedBytes))
    }
}
