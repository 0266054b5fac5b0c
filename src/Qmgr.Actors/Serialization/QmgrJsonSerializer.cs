using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using System.Runtime.Serialization;
using Akka.Serialization;

namespace Qmgr.Serialization;

/// <summary>
/// System.Text.Json serializer for every <see cref="IQmgrMessage"/>, with the short stable manifests of
/// <see cref="QmgrManifests"/> instead of CLR type names, so renaming a class never breaks recovery and the journal
/// stays readable (UTF-8 JSON). Actor references travel as their serialized paths.
/// </summary>
public sealed class QmgrJsonSerializer : SerializerWithStringManifest
{
    /// <summary>Serializer id bound in the actor system (must never change once events exist).</summary>
    public const int SerializerId = 4711;

    private readonly JsonSerializerOptions _options;

    public QmgrJsonSerializer(ExtendedActorSystem system) : base(system)
    {
        _options = CreateOptions(new ActorRefConverter(system));
    }

    public override int Identifier => SerializerId;

    /// <summary>The JSON options used for events and snapshots; <paramref name="actorRefs"/> is null outside an actor system.</summary>
    public static JsonSerializerOptions CreateOptions(JsonConverter? actorRefs = null)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Converters = { new JsonStringEnumConverter() },
        };
        if (actorRefs is not null) options.Converters.Add(actorRefs);
        return options;
    }

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), _options);

    public override object FromBinary(byte[] bytes, string manifest) =>
        JsonSerializer.Deserialize(bytes, QmgrManifests.TypeOf(manifest), _options)
        ?? throw new SerializationException($"null payload for manifest {manifest}");

    public override string Manifest(object o) => QmgrManifests.ManifestOf(o.GetType());

    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        public override bool CanConvert(Type typeToConvert) => typeof(IActorRef).IsAssignableFrom(typeToConvert);

        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            system.Provider.ResolveActorRef(reader.GetString() ?? throw new JsonException("actor path expected"));

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Akka.Serialization.Serialization.SerializedActorPath(value));
    }
}
