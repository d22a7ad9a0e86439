using System.Runtime.InteropServices;

using Shaper.Interop;

namespace Shaper.Firewall;

/// <summary>
/// Makes sure no other local user can redirect the files the daemon writes in <c>state_dir</c> as root: the
/// directory must be a real directory (not a symlink) owned by the daemon's user and not writable by group or
/// others, and every directory above it must be owned by root or that user and either not writable by others
/// or sticky (as <c>/tmp</c>), so nobody else can plant a symlink in it or rename it away. Files already in it
/// must be regular files of that user. This is the check OpenSSH's StrictModes makes on a user's
/// <c>~/.ssh</c> before trusting it.
/// </summary>
internal static partial class StateDirectory
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1, StatxMode = 0x2, StatxUid = 0x8;
    private const int TypeMask = 0xF000, Directory = 0x4000, Regular = 0x8000, Symlink = 0xA000;
    private const int GroupOrOtherWrite = 0x12; // 0o022
    private const int Sticky = 0x200;          // 0o1000

    /// <summary>
    /// Creates <paramref name="path"/> (mode 0700) when it is missing and checks it and <paramref name="files"/>
    /// in it; null when it is safe to write there, else one line saying what is wrong and how to fix it.
    /// </summary>
    public static string? Prepare(string path, IReadOnlyList<string> files)
    {
        if (!Path.IsPathFullyQualified(path))
        {
            return $"state_dir '{path}' is not an absolute path";
        }

        var uid = LibC.GetEuid();
        try
        {
            if (Lstat(path) is null)
            {
                var parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(path));
                if (parent is not null)
                {
                    System.IO.Directory.CreateDirectory(parent);
                }

                System.IO.Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot create state_dir {path}: {e.Message}";
        }

        if (Lstat(path) is not { } leaf)
        {
            return $"state_dir {path} vanished while it was being checked";
        }

        if ((leaf.Mode & TypeMask) != Directory)
        {
            return $"state_dir {path} is {Kind(leaf.Mode)}, not a directory; point state_dir at a directory owned by uid {uid}";
        }

        if (leaf.Uid != uid)
        {
            return $"state_dir {path} is owned by uid {leaf.Uid}, not by the daemon's uid {uid}: that user could redirect its files; chown {uid} {path}";
        }

        if ((leaf.Mode & GroupOrOtherWrite) != 0)
        {
            return $"state_dir {path} is writable by group or others (mode {Octal(leaf.Mode)}): another user could plant a symlink there; chmod go-w {path}";
        }

        for (var above = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(path)); above is not null; above = Path.GetDirectoryName(above))
        {
            if (Lstat(above) is not { } dir)
            {
                return $"cannot inspect {above}, above state_dir {path}";
            }

            if ((dir.Mode & TypeMask) == Symlink)
            {
                continue; // only its owner can rewrite a link, and its parent is checked next; the target's own parents are not
            }

            if (dir.Uid != 0 && dir.Uid != uid)
            {
                return $"{above}, above state_dir {path}, is owned by uid {dir.Uid}: that user could swap state_dir for another directory; move state_dir under directories owned by root";
            }

            if ((dir.Mode & GroupOrOtherWrite) != 0 && (dir.Mode & Sticky) == 0)
            {
                return $"{above}, above state_dir {path}, is writable by group or others without the sticky bit (mode {Octal(dir.Mode)}): another user could rename state_dir away; chmod go-w {above}";
            }
        }

        foreach (var name in files)
        {
            var file = Path.Combine(path, name);
            if (Lstat(file) is not { } entry)
            {
                continue;
            }

            if ((entry.Mode & TypeMask) != Regular)
            {
                return $"{file} is {Kind(entry.Mode)}, not a regular file; remove it";
            }

            if (entry.Uid != uid)
            {
                return $"{file} is owned by uid {entry.Uid}, not by the daemon's uid {uid}; remove it or chown {uid} {file}";
            }
        }

        return null;
    }

    /// <summary>Whether <paramref name="path"/> is on a file system mounted read-only (access(2) answers EROFS, even to root).</summary>
    public static bool IsReadOnly(string path) => LibC.Access(path, 2 /* W_OK */) != 0 && Marshal.GetLastPInvokeError() == 30 /* EROFS */;

    private static string Kind(int mode) => (mode & TypeMask) switch
    {
        Symlink => "a symlink",
        Directory => "a directory",
        Regular => "a regular file",
        _ => "a special file",
    };

    private static string Octal(int mode) => Convert.ToString(mode & 0xFFF, 8).PadLeft(4, '0');

    /// <summary>The type, mode and owner of <paramref name="path"/> itself (a symlink is not followed); null when it does not exist.</summary>
    private static unsafe (int Mode, uint Uid)? Lstat(string path)
    {
        // struct statx is the same on every architecture (uapi/linux/stat.h): stx_uid at byte 20, stx_mode at 28.
        var buffer = stackalloc byte[256];
        if (LibC.Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxMode | StatxUid, buffer) != 0)
        {
            return null;
        }

        return (*(ushort*)(buffer + 28), *(uint*)(buffer + 20));
    }
}
