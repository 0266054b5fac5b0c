namespace Qmgr.Tests; public class PlaceholderSpecs { [Xunit.Fact] public void Runs() => Xunit.Assert.True(1 + 1 == 2); }
