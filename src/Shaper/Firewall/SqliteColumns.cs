using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SQLitePCL;

namespace Shaper.Firewall;

/// <summary>
/// The column reads of a statement's current row, straight into the SQLite library SQLitePCLRaw loads
/// (<c>e_sqlite3</c>): by the statement's pointer, without SQLitePCLRaw's handle reference counting per call and
/// without a GC transition (each call only reads the row SQLite already holds), for a scan of a million rows, where
/// those two were a quarter of the reading's CPU. The statement must stay alive (its handle undisposed) meanwhile.
/// </summary>
internal static partial class SqliteColumns
{
    private const string Library = "e_sqlite3";

    /// <summary>The statement's pointer, for the calls below.</summary>
    public static IntPtr Of(sqlite3_stmt statement) => statement.DangerousGetHandle();

    /// <summary>The column's type (<see cref="raw.SQLITE_INTEGER"/>, <see cref="raw.SQLITE_BLOB"/>...).</summary>
    [LibraryImport(Library, EntryPoint = "sqlite3_column_type")]
    [SuppressGCTransition]
    public static partial int Type(IntPtr statement, int column);

    /// <summary>The column as a 64-bit integer.</summary>
    [LibraryImport(Library, EntryPoint = "sqlite3_column_int64")]
    [SuppressGCTransition]
    public static partial long Int64(IntPtr statement, int column);

    /// <summary>The column's bytes, valid until the next step.</summary>
    public static unsafe ReadOnlySpan<byte> Blob(IntPtr statement, int column)
    {
        var data = BlobPointer(statement, column); // before its length: the SQLite documentation's order
        return data == null ? default : new ReadOnlySpan<byte>(data, Bytes(statement, column));
    }

    [LibraryImport(Library, EntryPoint = "sqlite3_column_blob")]
    [SuppressGCTransition]
    private static unsafe partial byte* BlobPointer(IntPtr statement, int column);

    [LibraryImport(Library, EntryPoint = "sqlite3_column_bytes")]
    [SuppressGCTransition]
    private static partial int Bytes(IntPtr statement, int column);
}
