namespace Shaper.Rules;

/// <summary>Linux interface names: 1 to 15 bytes (IFNAMSIZ - 1), printable ASCII without '/', ':' or spaces, not "." or "..".</summary>
internal static class InterfaceNames
{
    public const int MaxLength = 15;

    /// <summary>True for a name the kernel could give an interface; <paramref name="allowWildcard"/> admits a trailing '*' (nft's <c>iifname "eth*"</c>).</summary>
    public static bool IsValid(string name, bool allowWildcard)
    {
        if (name.Length is 0 or > MaxLength)
        {
            return false;
        }

        var body = allowWildcard && name.EndsWith('*') ? name[..^1] : name;
        if (body.Length == 0 || body is "." or "..")
        {
            return false;
        }

        foreach (var c in body)
        {
            if (c is '/' or ':' or '*' or '"' or '\\' or <= ' ' or > '~')
            {
                return false;
            }
        }

        return true;
    }
}
