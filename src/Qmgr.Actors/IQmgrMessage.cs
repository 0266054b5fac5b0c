namespace Qmgr;

/// <summary>Marker for every message and state type that crosses a process boundary; bound to <see cref="Serialization.QmgrJsonSerializer"/>.</summary>
public interface IQmgrMessage;

/// <summary>Marker for journaled events. Each has a stable manifest in <see cref="Serialization.QmgrManifests"/>.</summary>
public interface IQmgrEvent : IQmgrMessage;
