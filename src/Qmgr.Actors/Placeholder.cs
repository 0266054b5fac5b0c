namespace Qmgr; internal static class Placeholder {}
