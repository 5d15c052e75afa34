using Xunit;

namespace UnleashingTransformers.Silo.Tests;

/// <summary>One broker for all tests that need one (it takes seconds to start).</summary>
[CollectionDefinition(Name)]
public sealed class BrokerCollection : ICollectionFixture<RabbitMqBroker>
{
    public const string Name = "broker";
}
