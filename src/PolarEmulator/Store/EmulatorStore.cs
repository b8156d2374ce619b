using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using CreditGrants.Polar.Meters;
using CreditGrants.Polar.Models;
using PolarEmulator.Validation;
using PolarEmulator.Wire;

namespace PolarEmulator.Store;

/// <summary>
/// The emulator's state: customers, meters, events and the balances derived from them, behind one lock.
/// Customers are indexed by id, email (case-insensitive) and external id; events by external id (dedup) and by
/// customer; balances are kept incrementally, so an ingest costs time in its own events and reads cost nothing.
/// </summary>
internal sealed partial class EmulatorStore
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly Action _changed;

    private readonly List<CustomerRecord> _customers = [];
    private readonly Dictionary<Guid, CustomerRecord> _customersById = [];
    private readonly Dictionary<string, CustomerRecord> _customersByEmail = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, CustomerRecord> _customersByExternalId = new(StringComparer.Ordinal);

    private readonly List<MeterRecord> _meters = [];
    private readonly Dictionary<Guid, MeterRecord> _metersById = [];

    private readonly List<EventRecord> _events = [];
    private readonly HashSet<string> _eventExternalIds = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, List<int>> _eventsByCustomerId = [];
    private readonly Dictionary<string, List<int>> _eventsByExternalCustomerId = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, int> _eventIndexById = [];

    // Built for a metadata key the first time a list filters on it, then kept up to date by every insert.
    private readonly Dictionary<string, Dictionary<string, List<int>>> _eventsByMetadata = new(StringComparer.Ordinal);
    private int _eventsWithParent;

    private readonly List<CustomerMeterRecord> _customerMeters = [];
    private readonly Dictionary<Guid, CustomerMeterRecord> _customerMetersById = [];
    private readonly Dictionary<Guid, List<CustomerMeterRecord>> _customerMetersByCustomer = [];
    private long _customerMeterSequence;

    public EmulatorStore(Guid organizationId, TimeProvider time, Action changed)
    {
        OrganizationId = organizationId;
        _time = time;
        _changed = changed;
    }

    public Guid OrganizationId { get; }

    /// <summary>
    /// How long an ingested event stays out of <c>GET /v1/events/</c> and <c>GET /v1/events/{id}</c>: Polar reads events from a
    /// separate store fed asynchronously. Measured on the store's clock; zero shows events at once.
    /// </summary>
    public TimeSpan EventStoreLag { get; set; }

    /// <summary>How long an ingested event stays out of balances (Polar recomputes them in the background); zero counts it at once.</summary>
    public TimeSpan BalanceLag { get; set; }

    /// <summary>Events before this index are counted in balances; the rest wait for <see cref="BalanceLag"/> to pass.</summary>
    private int _countedEvents;

    /// <summary>Events before this index are shown whatever the lag (<see cref="CatchUp"/>).</summary>
    private int _caughtUpEvents;

    /// <summary>Ends every lag now: what was ingested so far is listed and counted, as once Polar's background work has run.</summary>
    public void CatchUp()
    {
        lock (_lock)
        {
            _caughtUpEvents = _events.Count;
            Settle();
        }
    }

    /// <summary>Whether <c>GET /v1/events/</c> shows the event yet.</summary>
    private bool IsListed(int index) =>
        index < _caughtUpEvents || EventStoreLag <= TimeSpan.Zero || _events[index].IngestedAt + EventStoreLag <= Now();

    /// <summary>Counts, in ingest order, the events whose balance lag has passed (called under the lock before balances are read).</summary>
    private void Settle()
    {
        var now = Now();
        while (_countedEvents < _events.Count
            && (_countedEvents < _caughtUpEvents || BalanceLag <= TimeSpan.Zero || _events[_countedEvents].IngestedAt + BalanceLag <= now))
        {
            var record = _events[_countedEvents++];
            using var metadata = JsonDocument.Parse(record.Metadata);
            Count(record, EventCustomer(record), metadata.RootElement, _meters, countMatches: true);
        }
    }

    /// <summary>The clock's time at Polar's precision (microseconds), so what is stored is what is answered.</summary>
    private DateTimeOffset Now() => Timestamps.Microseconds(_time.GetUtcNow());

    /// <summary>How many ingested (<c>user</c>) events the store holds; Polar's own system events are not counted.</summary>
    public int EventCount
    {
        get
        {
            lock (_lock)
            {
                return _userEvents;
            }
        }
    }

    private int _userEvents;

    // ---- Customers -------------------------------------------------------------------------------------------

    public (CustomerResource? Customer, Refusal? Refusal) CreateCustomer(CustomerDraft draft)
    {
        CustomerResource created;
        lock (_lock)
        {
            var clashes = Clashes(draft.Email, draft.ExternalId, except: null);
            if (clashes.Count > 0)
            {
                return (null, new Refusal(clashes));
            }

            var customer = new CustomerRecord
            {
                Id = Guid.NewGuid(),
                CreatedAt = Now(),
                Metadata = draft.Metadata,
                Email = draft.Email,
                Name = draft.Name,
                ExternalId = draft.ExternalId,
                Type = draft.Type,
                BillingAddress = draft.BillingAddress,
                TaxId = draft.TaxId,
                Locale = draft.Locale,
            };
            AddCustomer(customer);
            LinkEventsByExternalId(customer);
            WriteCustomerEvent("customer.created", customer);
            PublishState(customer);
            created = customer.ToResource(OrganizationId);
        }

        _changed();
        return (created, null);
    }

    /// <summary>
    /// Adds customers <c>user-1</c> … <c>user-N</c> (emails <c>user-N@bench.dev</c>) straight into the store, for load tests;
    /// numbers whose external id or email is taken are skipped. Returns how many were added.
    /// </summary>
    public int SeedCustomers(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var added = 0;
        lock (_lock)
        {
            var now = Now();
            var metadata = new Dictionary<string, JsonElement>();
            _customers.EnsureCapacity(_customers.Count + count);
            _customersById.EnsureCapacity(_customersById.Count + count);
            _customersByEmail.EnsureCapacity(_customersByEmail.Count + count);
            _customersByExternalId.EnsureCapacity(_customersByExternalId.Count + count);
            for (var n = 1; n <= count; n++)
            {
                var externalId = SeededExternalId(n);
                var email = SeededEmail(n);
                if (_customersByExternalId.ContainsKey(externalId) || _customersByEmail.ContainsKey(email))
                {
                    continue;
                }

                var customer = new CustomerRecord
                {
                    Id = Guid.NewGuid(),
                    CreatedAt = now,
                    Metadata = metadata,
                    Email = email,
                    ExternalId = externalId,
                    Type = "individual",
                };
                AddCustomer(customer);
                LinkEventsByExternalId(customer);
                added++;
            }
        }

        if (added > 0)
        {
            _changed();
        }

        return added;
    }

    /// <summary>Adds the described customers unless their external id or email is taken; returns how many were added.</summary>
    public int SeedCustomers(IEnumerable<EmulatorCustomerSeed> seeds)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        var added = 0;
        lock (_lock)
        {
            foreach (var seed in seeds)
            {
                if (_customersByExternalId.ContainsKey(seed.ExternalId) || _customersByEmail.ContainsKey(seed.Email))
                {
                    continue;
                }

                var customer = new CustomerRecord
                {
                    Id = Guid.NewGuid(),
                    CreatedAt = Now(),
                    Metadata = seed.Metadata.ToDictionary(m => m.Key, m => JsonSerializer.SerializeToElement(m.Value, EmulatorJsonContext.Default.String)),
                    Email = seed.Email,
                    Name = seed.Name,
                    ExternalId = seed.ExternalId,
                    Type = "individual",
                    HasActiveSubscription = seed.HasActiveSubscription,
                };
                AddCustomer(customer);
                LinkEventsByExternalId(customer);
                added++;
            }
        }

        if (added > 0)
        {
            _changed();
        }

        return added;
    }

    /// <summary>The external id of the n-th seeded customer.</summary>
    public static string SeededExternalId(int n) => string.Create(CultureInfo.InvariantCulture, $"user-{n}");

    /// <summary>The email of the n-th seeded customer.</summary>
    public static string SeededEmail(int n) => string.Create(CultureInfo.InvariantCulture, $"user-{n}@bench.dev");

    public CustomerResource? GetCustomer(Guid id)
    {
        lock (_lock)
        {
            return FindCustomer(id)?.ToResource(OrganizationId);
        }
    }

    public CustomerResource? GetCustomerByExternalId(string externalId)
    {
        lock (_lock)
        {
            return _customersByExternalId.GetValueOrDefault(externalId)?.ToResource(OrganizationId);
        }
    }

    public CustomerStateResource? GetCustomerState(Guid? id, string? externalId)
    {
        lock (_lock)
        {
            Settle();
            var customer = FindCustomer(id, externalId);
            if (customer is null)
            {
                return null;
            }

            return CustomerState(customer);
        }
    }

    public (IReadOnlyList<CustomerResource> Items, int TotalCount) ListCustomers(CustomerQuery query)
    {
        lock (_lock)
        {
            IEnumerable<CustomerRecord> candidates = query.Email is { } email
                ? _customersByEmail.TryGetValue(email, out var match) ? [match] : []
                : _customers.Where(c => !c.IsDeleted);
            if (query.Query is { } text)
            {
                candidates = candidates.Where(c =>
                    (c.Email?.Contains(text, StringComparison.OrdinalIgnoreCase) ?? false)
                    || (c.Name?.Contains(text, StringComparison.OrdinalIgnoreCase) ?? false)
                    || (c.ExternalId?.StartsWith(text, StringComparison.OrdinalIgnoreCase) ?? false));
            }

            candidates = candidates.Where(c => MetadataMatches(c.Metadata, query.Metadata));
            if (query.Active is { } active)
            {
                candidates = candidates.Where(c => c.HasActiveSubscription == active);
            }

            var sorted = Sort([.. candidates.Select(c => (c, c.Sequence))], query.Sorting, CustomerSortValue);
            var (page, total) = query.Page.Slice(sorted);
            return ([.. page.Select(p => p.Item.ToResource(OrganizationId))], total);
        }
    }

    public (CustomerResource? Customer, Refusal? Refusal) UpdateCustomer(Guid? id, string? externalId, CustomerPatch patch)
    {
        CustomerResource updated;
        lock (_lock)
        {
            var customer = FindCustomer(id, externalId);
            if (customer is null)
            {
                return (null, null);
            }

            if (patch.ExternalId.IsSet && customer.ExternalId is not null && patch.ExternalId.Value != customer.ExternalId)
            {
                return (null, new Refusal([Issues.Polar("value_error", Issues.Loc("body", "external_id"), Issues.Text(patch.ExternalId.Value),
                    "Customer external ID cannot be updated.")]));
            }

            var newEmail = patch.Email.IsSet && patch.Email.Value is { } e && !string.Equals(e, customer.Email, StringComparison.OrdinalIgnoreCase) ? e : null;
            var newExternalId = patch.ExternalId.IsSet && customer.ExternalId is null ? patch.ExternalId.Value : null;
            var clashes = Clashes(newEmail, newExternalId, except: customer);
            if (clashes.Count > 0)
            {
                return (null, new Refusal(clashes));
            }

            if (patch.Email.IsSet && patch.Email.Value is { } email)
            {
                RemoveFromIndex(_customersByEmail, customer.Email, customer);
                customer.Email = email;
                _customersByEmail[email] = customer;
            }

            if (newExternalId is not null)
            {
                customer.ExternalId = newExternalId;
                _customersByExternalId[newExternalId] = customer;
                LinkEventsByExternalId(customer);
            }

            customer.Name = patch.Name.Or(customer.Name);
            customer.Type = patch.Type.Or(customer.Type);
            customer.Metadata = patch.Metadata.Or(customer.Metadata);
            customer.BillingAddress = patch.BillingAddress.Or(customer.BillingAddress);
            customer.TaxId = patch.TaxId.Or(customer.TaxId);
            customer.Locale = patch.Locale.Or(customer.Locale);

            customer.ModifiedAt = Now();
            WriteCustomerEvent("customer.updated", customer, UpdatedFields(patch, customer));
            PublishState(customer);
            updated = customer.ToResource(OrganizationId);
        }

        _changed();
        return (updated, null);
    }

    /// <summary>Soft-deletes a customer: its subscriptions are revoked, its email and external id become free, its balances disappear.</summary>
    public bool DeleteCustomer(Guid? id, string? externalId)
    {
        lock (_lock)
        {
            var customer = FindCustomer(id, externalId);
            if (customer is null)
            {
                return false;
            }

            RevokeSubscriptionsOf(customer);
            customer.DeletedAt = Now();
            WriteCustomerEvent("customer.deleted", customer);
            RemoveFromIndex(_customersByEmail, customer.Email, customer);
            RemoveFromIndex(_customersByExternalId, customer.ExternalId, customer);
            if (_customerMetersByCustomer.Remove(customer.Id, out var meters))
            {
                foreach (var meter in meters)
                {
                    _customerMetersById.Remove(meter.Id);
                }

                _customerMeters.RemoveAll(m => m.Customer == customer);
            }
        }

        _changed();
        return true;
    }

    // ---- Events ----------------------------------------------------------------------------------------------

    /// <summary>Inserts the events, all or nothing: any unknown customer or parent refuses the whole request.</summary>
    public (IngestResultResource? Result, Refusal? Refusal) Ingest(IReadOnlyList<EventDraft> drafts, bool strictReferences = false)
    {
        IngestResultResource result;
        lock (_lock)
        {
            var refusals = new List<ValidationIssue>();
            var batchExternalIds = drafts.Where(d => d.ExternalId is not null).Select(d => d.ExternalId!).ToHashSet(StringComparer.Ordinal);
            foreach (var draft in drafts)
            {
                if (draft.OrganizationId is { } organizationId)
                {
                    refusals.Add(Issues.Polar("organization_token", Issues.Loc("body", "events", draft.Index, "organization_id"),
                        Issues.Text(organizationId.ToString()), "Setting organization_id is disallowed when using an organization token."));
                }
                else if (draft.CustomerId is { } customerId && FindCustomer(customerId) is null)
                {
                    refusals.Add(Issues.Polar("customer_id", Issues.Loc("body", "events", draft.Index, "customer_id"),
                        Issues.Text(customerId.ToString()), "Customer not found."));
                }
                else if (strictReferences && draft.ParentId is { } parentId && !batchExternalIds.Contains(parentId) && !_eventExternalIds.Contains(parentId)
                    && !(Guid.TryParse(parentId, out var parentGuid) && _eventIndexById.ContainsKey(parentGuid)))
                {
                    refusals.Add(Issues.Polar("parent_id", Issues.Loc("body", "events", draft.Index, "parent_id"),
                        Issues.Text(parentId), "Parent event not found."));
                }
            }

            if (refusals.Count > 0)
            {
                return (null, new Refusal(refusals));
            }

            var now = Now();
            int inserted = 0, duplicates = 0;
            foreach (var draft in drafts)
            {
                if (draft.ExternalId is { } externalId && !_eventExternalIds.Add(externalId))
                {
                    duplicates++;
                    continue;
                }

                var metadata = draft.Metadata.ValueKind == JsonValueKind.Object && draft.Metadata.GetPropertyCount() > 0
                    ? JsonMarshal.GetRawUtf8Value(draft.Metadata).ToArray()
                    : EventRecord.EmptyMetadata;
                var record = new EventRecord(draft.Name, draft.Timestamp, now, draft.CustomerId, draft.ExternalCustomerId,
                    draft.ExternalId, draft.ParentId, metadata);
                AddEvent(record, draft.Metadata);
                inserted++;
            }

            result = new IngestResultResource(inserted, duplicates);
        }

        if (result.Inserted > 0)
        {
            _changed();
        }

        return (result, null);
    }

    /// <summary>
    /// Lists events as <c>GET /v1/events/</c> does: every filter applies (a list filter matches any of its values,
    /// <c>metadata[key]</c> repeated matches any of its values), sorted by timestamp then insertion order, one page.
    /// </summary>
    public (IReadOnlyList<EventResource> Items, int TotalCount, Refusal? Refusal) ListEvents(EventQuery query)
    {
        lock (_lock)
        {
            MeterRecord? meter = null;
            if (query.MeterId is { } meterId && !_metersById.TryGetValue(meterId, out meter))
            {
                return ([], 0, new Refusal([Issues.Polar("value_error", Issues.Loc("query", "meter_id"), Issues.Text(meterId.ToString()), "Meter not found.")]));
            }

            if (query.OrganizationIds.Count > 0 && !query.OrganizationIds.Contains(OrganizationId))
            {
                return ([], 0, null);
            }

            var tree = _eventsWithParent > 0 || query.ParentId is not null ? EventTree.Build(_events, FindEventIndex) : null;
            int? anchor = null;
            if (query.ParentId is { } parentId)
            {
                anchor = FindEventIndex(parentId);
                if (anchor is null)
                {
                    return ([], 0, null);
                }
            }

            var matches = new List<(int Item, long Order)>();
            foreach (var index in query.Metadata.Count > 0 ? MetadataCandidates(query.Metadata) : Enumerable.Range(0, _events.Count))
            {
                if (IsListed(index) && EventMatches(index, query, meter, tree, anchor))
                {
                    matches.Add((index, index));
                }
            }

            var sorted = Sort(matches, query.Sorting, (index, _) => _events[index].Timestamp);
            var (page, total) = query.Page.Slice(sorted);
            return ([.. page.Select(p => EventResourceAt(p.Item, tree))], total, null);
        }
    }

    // ---- Meters ----------------------------------------------------------------------------------------------

    public MeterResource CreateMeter(MeterDraft draft)
    {
        MeterResource created;
        lock (_lock)
        {
            var meter = new MeterRecord
            {
                Id = Guid.NewGuid(),
                CreatedAt = Now(),
                Name = draft.Name,
                Filter = draft.Filter,
                Aggregation = draft.Aggregation,
                Unit = draft.Unit,
                CustomLabel = draft.CustomLabel,
                CustomMultiplier = draft.CustomMultiplier,
                Metadata = draft.Metadata,
            };
            _meters.Add(meter);
            _metersById[meter.Id] = meter;
            ReplayEvents(meter);
            created = meter.ToResource(OrganizationId);
        }

        _changed();
        return created;
    }

    /// <summary>Creates the guide's meter unless a meter of that name exists; says whether it created one.</summary>
    public bool EnsureMeter(MeterDraft draft)
    {
        lock (_lock)
        {
            if (_meters.Any(m => m.Name == draft.Name))
            {
                return false;
            }
        }

        CreateMeter(draft);
        return true;
    }

    public MeterResource? GetMeter(Guid id)
    {
        lock (_lock)
        {
            return _metersById.GetValueOrDefault(id)?.ToResource(OrganizationId);
        }
    }

    public (IReadOnlyList<MeterResource> Items, int TotalCount) ListMeters(MeterQuery query)
    {
        lock (_lock)
        {
            var candidates = _meters.Select((m, i) => (m, (long)i))
                .Where(p => query.Query is null || p.m.Name.Contains(query.Query, StringComparison.OrdinalIgnoreCase))
                .Where(p => query.IsArchived is null || (p.m.ArchivedAt is not null) == query.IsArchived)
                .Where(p => MetadataMatches(p.m.Metadata, query.Metadata))
                .ToList();
            var sorted = Sort(candidates, query.Sorting, static (m, property) => property switch
            {
                "name" => m.Name,
                _ => m.CreatedAt,
            });
            var (page, total) = query.Page.Slice(sorted);
            return ([.. page.Select(p => p.Item.ToResource(OrganizationId))], total);
        }
    }

    public (MeterResource? Meter, Refusal? Refusal) UpdateMeter(Guid id, MeterPatch patch)
    {
        MeterResource updated;
        lock (_lock)
        {
            if (!_metersById.TryGetValue(id, out var meter))
            {
                return (null, null);
            }

            Settle();
            var redefines = patch.Filter.IsSet || patch.Aggregation.IsSet;
            if (redefines && meter.MatchedEvents > 0)
            {
                var field = patch.Filter.IsSet ? "filter" : "aggregation";
                return (null, new Refusal([Issues.Polar("forbidden", Issues.Loc("body", field), Issues.Null,
                    "The filter and aggregation of a meter cannot be changed once it has processed events.")]));
            }

            var now = Now();
            meter.Name = patch.Name.Or(meter.Name);
            meter.Filter = patch.Filter.Or(meter.Filter);
            meter.Aggregation = patch.Aggregation.Or(meter.Aggregation);

            if (patch.IsArchived.IsSet)
            {
                meter.ArchivedAt = patch.IsArchived.Value ? meter.ArchivedAt ?? now : null;
            }

            meter.Unit = patch.Unit.Or(meter.Unit);
            meter.CustomLabel = patch.CustomLabel.Or(meter.CustomLabel);
            meter.CustomMultiplier = patch.CustomMultiplier.Or(meter.CustomMultiplier);
            meter.Metadata = patch.Metadata.Or(meter.Metadata);

            meter.ModifiedAt = now;
            if (redefines)
            {
                // No event matched the old definition (checked above), so no balance exists yet: count afresh.
                ReplayEvents(meter);
            }

            updated = meter.ToResource(OrganizationId);
        }

        _changed();
        return (updated, null);
    }

    // ---- Customer meters -------------------------------------------------------------------------------------

    public CustomerMeterResource? GetCustomerMeter(Guid id)
    {
        lock (_lock)
        {
            Settle();
            return _customerMetersById.GetValueOrDefault(id)?.ToResource(OrganizationId);
        }
    }

    public (IReadOnlyList<CustomerMeterResource> Items, int TotalCount) ListCustomerMeters(CustomerMeterQuery query)
    {
        lock (_lock)
        {
            Settle();
            IEnumerable<CustomerMeterRecord> candidates = _customerMeters;
            if (query.CustomerIds.Count > 0 || query.ExternalCustomerIds.Count > 0)
            {
                var customers = query.CustomerIds.Select(FindCustomer)
                    .Concat(query.ExternalCustomerIds.Select(e => _customersByExternalId.GetValueOrDefault(e)))
                    .OfType<CustomerRecord>()
                    .Distinct();
                candidates = customers.SelectMany(c => _customerMetersByCustomer.GetValueOrDefault(c.Id) ?? []);
                if (query.CustomerIds.Count > 0 && query.ExternalCustomerIds.Count > 0)
                {
                    // Both filters apply together, as Polar's query joins them with AND.
                    candidates = candidates.Where(m => query.CustomerIds.Contains(m.Customer.Id)
                        && m.Customer.ExternalId is { } externalId && query.ExternalCustomerIds.Contains(externalId));
                }
            }

            if (query.MeterIds.Count > 0)
            {
                candidates = candidates.Where(m => query.MeterIds.Contains(m.Meter.Id));
            }

            var ordered = candidates.Select(m => (m, m.Sequence)).ToList();
            var sorted = Sort(ordered, query.Sorting, static (m, property) => property switch
            {
                "created_at" => m.CreatedAt,
                "customer_id" => m.Customer.Id.ToString(),
                "customer_name" => m.Customer.Name,
                "meter_id" => m.Meter.Id.ToString(),
                "meter_name" => m.Meter.Name,
                "consumed_units" => m.Consumed,
                "credited_units" => m.Credited,
                "balance" => m.Balance,
                _ => m.ModifiedAt,
            });
            var (page, total) = query.Page.Slice(sorted);
            return ([.. page.Select(p => p.Item.ToResource(OrganizationId))], total);
        }
    }

    // ---- Persistence -----------------------------------------------------------------------------------------

    public StateSnapshot Snapshot()
    {
        lock (_lock)
        {
            return new StateSnapshot(
                OrganizationId,
                [.. _customers.Select(c => c.ToResource(OrganizationId))],
                [.. _meters.Select(m => m.ToResource(OrganizationId))],
                [.. _events],
                [.. _customers.Where(c => c.HasActiveSubscription).Select(c => c.Id)]);
        }
    }

    /// <summary>Rebuilds a store from a snapshot, replaying its events so indexes and balances come back as they were.</summary>
    public static EmulatorStore Restore(StateSnapshot snapshot, TimeProvider time, Action changed)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var store = new EmulatorStore(snapshot.OrganizationId, time, changed);
        lock (store._lock)
        {
            var active = snapshot.ActiveSubscriptionCustomers?.ToHashSet() ?? [];
            foreach (var customer in snapshot.Customers)
            {
                var record = CustomerRecord.FromResource(customer);
                record.HasActiveSubscription = active.Contains(customer.Id);
                store.AddCustomer(record);
            }

            foreach (var meter in snapshot.Meters.Select(MeterRecord.FromResource))
            {
                store._meters.Add(meter);
                store._metersById[meter.Id] = meter;
            }

            foreach (var record in snapshot.Events)
            {
                if (record.ExternalId is { } externalId)
                {
                    store._eventExternalIds.Add(externalId);
                }

                using var metadata = JsonDocument.Parse(record.Metadata);
                store.AddEvent(record, metadata.RootElement);
            }
        }

        return store;
    }

    // ---- Internals (called under the lock) -------------------------------------------------------------------

    private CustomerRecord? FindCustomer(Guid id) =>
        _customersById.TryGetValue(id, out var customer) && !customer.IsDeleted ? customer : null;

    /// <summary>The customer (not deleted) with this id, else with this external id, else null.</summary>
    private CustomerRecord? FindCustomer(Guid? id, string? externalId) =>
        id is { } customerId ? FindCustomer(customerId)
        : externalId is not null ? _customersByExternalId.GetValueOrDefault(externalId)
        : null;

    private List<ValidationIssue> Clashes(string? email, string? externalId, CustomerRecord? except)
    {
        var clashes = new List<ValidationIssue>();
        if (email is not null && _customersByEmail.TryGetValue(email, out var byEmail) && byEmail != except)
        {
            clashes.Add(Issues.Polar("value_error", Issues.Loc("body", "email"), Issues.Text(email), "A customer with this email address already exists."));
        }

        if (externalId is not null && _customersByExternalId.TryGetValue(externalId, out var byExternalId) && byExternalId != except)
        {
            clashes.Add(Issues.Polar("value_error", Issues.Loc("body", "external_id"), Issues.Text(externalId), "A customer with this external ID already exists."));
        }

        return clashes;
    }

    private void AddCustomer(CustomerRecord customer)
    {
        customer.Sequence = _customers.Count;
        _customers.Add(customer);
        _customersById[customer.Id] = customer;
        if (customer.IsDeleted)
        {
            return;
        }

        if (customer.Email is not null)
        {
            _customersByEmail[customer.Email] = customer;
        }

        if (customer.ExternalId is not null)
        {
            _customersByExternalId[customer.ExternalId] = customer;
        }
    }

    private static void RemoveFromIndex(Dictionary<string, CustomerRecord> index, string? key, CustomerRecord customer)
    {
        if (key is not null && index.TryGetValue(key, out var indexed) && indexed == customer)
        {
            index.Remove(key);
        }
    }

    /// <summary>Counts, for a customer that just got an external id, the events sent earlier under that id.</summary>
    private void LinkEventsByExternalId(CustomerRecord customer)
    {
        if (customer.ExternalId is null || !_eventsByExternalCustomerId.TryGetValue(customer.ExternalId, out var indexes))
        {
            return;
        }

        foreach (var index in indexes.Where(i => i < _countedEvents))
        {
            var record = _events[index];
            using var metadata = JsonDocument.Parse(record.Metadata);
            Count(record, customer, metadata.RootElement, _meters, countMatches: false);
        }
    }

    private void AddEvent(EventRecord record, JsonElement metadata)
    {
        var index = _events.Count;
        _events.Add(record);
        if (record.Source == EventRecord.UserSource)
        {
            _userEvents++;
        }

        _eventIndexById[EventIdAt(index)] = index;
        if (record.ParentId is not null)
        {
            _eventsWithParent++;
        }

        foreach (var (key, values) in _eventsByMetadata)
        {
            if (metadata.ValueKind == JsonValueKind.Object && metadata.TryGetProperty(key, out var value) && MetadataText(value) is { } text)
            {
                Index(values, text, index);
            }
        }
        CustomerRecord? customer = null;
        if (record.CustomerId is { } customerId)
        {
            Index(_eventsByCustomerId, customerId, index);
            customer = FindCustomer(customerId);
        }
        else if (record.ExternalCustomerId is { } externalCustomerId)
        {
            Index(_eventsByExternalCustomerId, externalCustomerId, index);
            customer = _customersByExternalId.GetValueOrDefault(externalCustomerId);
        }

        if (_countedEvents == index && BalanceLag <= TimeSpan.Zero)
        {
            _countedEvents++;
            Count(record, customer, metadata, _meters, countMatches: true);
        }
    }

    /// <summary>The event with this id, as <c>GET /v1/events/{id}</c> returns it, or null.</summary>
    public EventResource? GetEvent(Guid id)
    {
        lock (_lock)
        {
            return FindEventIndex(id) is { } index && IsListed(index)
                ? EventResourceAt(index, _eventsWithParent > 0 ? EventTree.Build(_events, FindEventIndex) : null)
                : null;
        }
    }

    private bool EventMatches(int index, EventQuery query, MeterRecord? meter, EventTree? tree, int? anchor)
    {
        var record = _events[index];
        if ((query.Names.Count > 0 && !query.Names.Contains(record.Name, StringComparer.Ordinal))
            || (query.Sources.Count > 0 && !query.Sources.Contains(record.Source, StringComparer.Ordinal))
            || (query.Start is { } start && record.Timestamp < start)
            || (query.End is { } end && record.Timestamp > end)
            || (query.Query is { } text && !record.Name.Contains(text, StringComparison.OrdinalIgnoreCase)))
        {
            return false;
        }

        var customer = EventCustomer(record);
        if (query.CustomerIds.Count > 0
            && !(record.CustomerId is { } rawId && query.CustomerIds.Contains(rawId))
            && !(customer is not null && query.CustomerIds.Contains(customer.Id)))
        {
            return false;
        }

        if (query.ExternalCustomerIds.Count > 0
            && !(record.ExternalCustomerId is { } rawExternal && query.ExternalCustomerIds.Contains(rawExternal, StringComparer.Ordinal))
            && !(customer?.ExternalId is { } externalId && query.ExternalCustomerIds.Contains(externalId, StringComparer.Ordinal)))
        {
            return false;
        }

        if (!InTree(index, query, tree, anchor))
        {
            return false;
        }

        if (query.Filter is null && meter is null)
        {
            return true;
        }

        if (meter is not null && record.Source != EventRecord.UserSource)
        {
            // A meter aggregates user events only, so meter_id never lists meter.credited or other system events.
            return false;
        }

        using var metadata = JsonDocument.Parse(record.Metadata);
        var facts = new MeterEventFacts(record.Name, record.Source, record.Timestamp, new JsonObjectView(metadata.RootElement));
        return (query.Filter is null || Matches(query.Filter, facts)) && (meter is null || Matches(meter.Filter, facts));
    }

    /// <summary>
    /// <c>depth</c> keeps events at most that many levels below the roots (or below the <c>parent_id</c> anchor, which is level 0);
    /// <c>parent_id</c> alone keeps the anchor's direct children.
    /// </summary>
    private static bool InTree(int index, EventQuery query, EventTree? tree, int? anchor)
    {
        if (query.Depth is not { } depth)
        {
            return anchor is not { } parent || tree!.ParentOf(index) == parent;
        }

        var level = 0;
        for (var current = index; ; level++)
        {
            if (anchor is { } top ? current == top : tree?.ParentOf(current) is null)
            {
                return level <= depth;
            }

            if (tree?.ParentOf(current) is not { } up || level >= depth)
            {
                return false;
            }

            current = up;
        }
    }

    private CustomerRecord? EventCustomer(EventRecord record) =>
        record.Source != EventRecord.UserSource && record.CustomerId is { } subject ? _customersById.GetValueOrDefault(subject)
        : record.CustomerId is { } customerId ? FindCustomer(customerId)
        : record.ExternalCustomerId is { } externalId ? _customersByExternalId.GetValueOrDefault(externalId)
        : null;

    private EventResource EventResourceAt(int index, EventTree? tree)
    {
        var record = _events[index];
        return new EventResource(EventIdAt(index), record.Timestamp, OrganizationId, record.CustomerId,
            EventCustomer(record)?.ToResource(OrganizationId), record.ExternalCustomerId, MemberId: null, ExternalMemberId: null,
            tree?.ChildCount(index) ?? 0, tree?.ParentOf(index) is { } parent ? EventIdAt(parent) : null, Label: record.Name, record.Name,
            record.Source, JsonElement.Parse(record.Metadata));
    }

    /// <summary>A stable UUID v4 for the n-th event of this organization, so ids survive a restart without being stored.</summary>
    private Guid EventIdAt(int index) => StableUuid.From(OrganizationId, index);

    private int? FindEventIndex(Guid id) => _eventIndexById.TryGetValue(id, out var index) ? index : null;

    /// <summary>The events whose metadata holds, for every key filtered on, one of the values asked for; in insertion order.</summary>
    private IEnumerable<int> MetadataCandidates(IReadOnlyDictionary<string, IReadOnlyList<string>> wanted)
    {
        HashSet<int>? result = null;
        foreach (var (key, values) in wanted)
        {
            var index = MetadataIndex(key);
            var matching = values.SelectMany(v => index.GetValueOrDefault(v) ?? []).ToHashSet();
            if (result is null)
            {
                result = matching;
            }
            else
            {
                result.IntersectWith(matching);
            }
        }

        return result is null ? [] : result.Order();
    }

    private Dictionary<string, List<int>> MetadataIndex(string key)
    {
        if (_eventsByMetadata.TryGetValue(key, out var index))
        {
            return index;
        }

        index = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (var i = 0; i < _events.Count; i++)
        {
            using var metadata = JsonDocument.Parse(_events[i].Metadata);
            if (metadata.RootElement.TryGetProperty(key, out var value) && MetadataText(value) is { } text)
            {
                Index(index, text, i);
            }
        }

        _eventsByMetadata[key] = index;
        return index;
    }

    /// <summary>A metadata value as Polar's <c>metadata[key]=value</c> compares it: a string as is, a number or boolean as its JSON text.</summary>
    private static string? MetadataText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => null,
    };

    private static void Index<TKey>(Dictionary<TKey, List<int>> index, TKey key, int value)
        where TKey : notnull
    {
        ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(index, key, out _);
        (list ??= []).Add(value);
    }

    /// <summary>
    /// Evaluates one event against meters and adds it to the customer's balances on those it matches. Meters aggregate
    /// user events only; of system events, <c>meter.reset</c> and <c>meter.credited</c> act on the balance they name.
    /// </summary>
    private void Count(EventRecord record, CustomerRecord? customer, JsonElement metadata, IEnumerable<MeterRecord> meters, bool countMatches)
    {
        if (record.Source != EventRecord.UserSource)
        {
            CountSystemEvent(record, customer, metadata, meters);
            return;
        }

        if (customer is not null && (customer.FirstUserEventAt is null || record.Timestamp < customer.FirstUserEventAt))
        {
            customer.FirstUserEventAt = record.Timestamp;
        }

        var facts = new MeterEventFacts(record.Name, record.Source, record.Timestamp, new JsonObjectView(metadata));
        foreach (var meter in meters)
        {
            if (!Matches(meter.Filter, facts))
            {
                continue;
            }

            if (countMatches)
            {
                meter.MatchedEvents++;
            }

            if (customer is null)
            {
                continue;
            }

            var balance = BalanceFor(record, customer, meter);
            // Polar's window is by ingestion: an event ingested after the latest reset counts, whatever its timestamp.
            balance.Accumulator.Add(meter.Aggregation.Property is { } property ? Lookup(metadata, property) : null);
        }
    }

    /// <summary>A <c>meter.reset</c> starts the named balance afresh; a <c>meter.credited</c> adds its units to it.</summary>
    private void CountSystemEvent(EventRecord record, CustomerRecord? customer, JsonElement metadata, IEnumerable<MeterRecord> meters)
    {
        if (customer is null || customer.IsDeleted || record.Name is not (MeterResetEvent or MeterCreditedEvent)
            || !metadata.TryGetProperty("meter_id", out var meterId) || !Guid.TryParse(meterId.GetString(), out var id)
            || meters.FirstOrDefault(m => m.Id == id) is not { } meter)
        {
            return;
        }

        var balance = BalanceFor(record, customer, meter);
        if (record.Name == MeterResetEvent)
        {
            balance.Reset(record.Timestamp);
        }
        else
        {
            balance.Credit(metadata.GetProperty("units").GetInt64(), metadata.GetProperty("rollover").GetBoolean());
        }
    }

    /// <summary>The customer's balance on the meter, created when first needed; its modification time follows the event.</summary>
    private CustomerMeterRecord BalanceFor(EventRecord record, CustomerRecord customer, MeterRecord meter)
    {
        // A balance changes when the last of event, meter and customer came to exist, so replays give the same times.
        var at = Max(record.IngestedAt, Max(meter.CreatedAt, customer.CreatedAt));
        var key = CustomerMeterRecord.IdFor(customer.Id, meter.Id);
        if (!_customerMetersById.TryGetValue(key, out var balance))
        {
            balance = new CustomerMeterRecord(key, customer, meter, at) { Sequence = _customerMeterSequence++ };
            _customerMetersById[key] = balance;
            _customerMeters.Add(balance);
            Index(_customerMetersByCustomer, customer.Id, balance);
        }

        if (at > balance.ModifiedAt)
        {
            balance.ModifiedAt = at;
        }

        return balance;
    }

    private static void Index(Dictionary<Guid, List<CustomerMeterRecord>> index, Guid key, CustomerMeterRecord value)
    {
        ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(index, key, out _);
        (list ??= []).Add(value);
    }

    /// <summary>Counts every stored event for a meter that is new or newly defined (its balances, credits included, start afresh).</summary>
    private void ReplayEvents(MeterRecord meter)
    {
        meter.MatchedEvents = 0;
        foreach (var stale in _customerMeters.Where(m => m.Meter == meter).ToList())
        {
            _customerMetersById.Remove(stale.Id);
            _customerMetersByCustomer[stale.Customer.Id].Remove(stale);
        }

        _customerMeters.RemoveAll(m => m.Meter == meter);
        MeterRecord[] only = [meter];
        foreach (var record in _events.Take(_countedEvents))
        {
            var customer = record.CustomerId is { } customerId
                ? FindCustomer(customerId)
                : _customersByExternalId.GetValueOrDefault(record.ExternalCustomerId!);
            using var metadata = JsonDocument.Parse(record.Metadata);
            Count(record, customer, metadata.RootElement, only, countMatches: true);
        }
    }

    private static bool Matches(MeterFilter filter, MeterEventFacts facts)
    {
        try
        {
            return MeterFilterEvaluator.Matches(filter, facts);
        }
        catch (FormatException)
        {
            // The evaluator reads numbers as decimal; a number beyond decimal's range (1e30) cannot equal a 32-bit clause value.
            return false;
        }
    }

    /// <summary>The metadata value a meter property names (<c>metadata.</c> dropped, dots walk into objects).</summary>
    private static JsonElement? Lookup(JsonElement metadata, string property)
    {
        if (metadata.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var current = metadata;
        foreach (var segment in MeterFilterEvaluator.MetadataKey(property).Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(segment, out current))
            {
                return null;
            }
        }

        return current;
    }

    private static bool MetadataMatches(IReadOnlyDictionary<string, JsonElement> metadata, IReadOnlyDictionary<string, IReadOnlyList<string>> wanted) =>
        wanted.All(w => metadata.TryGetValue(w.Key, out var value) && w.Value.Contains(
            value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText(), StringComparer.Ordinal));

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static object? CustomerSortValue(CustomerRecord customer, string property) => property switch
    {
        "email" => customer.Email,
        "name" => customer.Name,
        _ => customer.CreatedAt,
    };

    /// <summary>Orders by the sort keys, nulls last ascending as PostgreSQL does, then by creation order.</summary>
    private static List<(T Item, long Order)> Sort<T>(List<(T Item, long Order)> items, IReadOnlyList<SortKey> keys, Func<T, string, object?> value)
    {
        if (keys.All(k => k.Property == "created_at") && keys.Count > 0)
        {
            // Creation order is created_at order: no need to compare timestamps.
            items.Sort((x, y) => keys[0].Descending ? y.Order.CompareTo(x.Order) : x.Order.CompareTo(y.Order));
            return items;
        }

        items.Sort((x, y) =>
        {
            foreach (var key in keys)
            {
                var a = value(x.Item, key.Property);
                var b = value(y.Item, key.Property);
                var order = (a, b) switch
                {
                    (null, null) => 0,
                    (null, _) => 1,
                    (_, null) => -1,
                    (string s, string t) => string.CompareOrdinal(s, t),
                    (IComparable c, _) => c.CompareTo(b),
                    _ => 0,
                };
                if (order != 0)
                {
                    return key.Descending ? -order : order;
                }
            }

            var last = keys.Count > 0 && keys[^1].Descending ? -1 : 1;
            return last * x.Order.CompareTo(y.Order);
        });
        return items;
    }
}

/// <summary>
/// Parent and child links between events: a parent is named at ingest by its external id or its id, and is resolved when
/// read, so a parent that arrives later is linked then (as Polar does); one never stored leaves the event a root.
/// </summary>
internal sealed class EventTree
{
    private readonly Dictionary<int, int> _parents = [];
    private readonly Dictionary<int, int> _children = [];

    public static EventTree Build(IReadOnlyList<EventRecord> events, Func<Guid, int?> byId)
    {
        var tree = new EventTree();
        var wanted = events.Where(e => e.ParentId is not null).Select(e => e.ParentId!).ToHashSet(StringComparer.Ordinal);
        var byExternalId = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i].ExternalId is { } externalId && wanted.Contains(externalId))
            {
                byExternalId[externalId] = i;
            }
        }

        for (var i = 0; i < events.Count; i++)
        {
            if (events[i].ParentId is { } parentId
                && (byExternalId.TryGetValue(parentId, out var parent)
                    || (Guid.TryParse(parentId, out var parentGuid) && byId(parentGuid) is { } found && (parent = found) >= 0))
                && parent != i)
            {
                tree._parents[i] = parent;
                tree._children[parent] = tree._children.GetValueOrDefault(parent) + 1;
            }
        }

        return tree;
    }

    public int? ParentOf(int index) => _parents.TryGetValue(index, out var parent) ? parent : null;

    public int ChildCount(int index) => _children.GetValueOrDefault(index);
}
