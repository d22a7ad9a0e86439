namespace Shaper.Rules;

/// <summary>The configuration a fresh install ships (<c>packaging/shaper.toml</c>), built into the library.</summary>
public static class DefaultConfiguration
{
    /// <summary>The installed configuration file's path.</summary>
    public const string Path = "/etc/shaper/shaper.toml";

    /// <summary>The name diagnostics of the built-in copy show.</summary>
    public const string BuiltInName = "(built-in default shaper.toml)";

    /// <summary>The text of the default configuration.</summary>
    public static string Text
    {
        get
        {
            using var stream = typeof(DefaultConfiguration).Assembly.GetManifestResourceStream("Shaper.default.toml")
                ?? throw new InvalidOperationException("the default configuration is missing from the build");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    /// <summary>
    /// Loads <paramref name="path"/> when given; otherwise <see cref="Path"/> when it exists, else the built-in copy.
    /// </summary>
    public static LoadResult LoadOrDefault(string? path, LoadOptions? options = null) =>
        path is not null ? ConfigLoader.Load(path, options)
        : File.Exists(Path) ? ConfigLoader.Load(Path, options)
        : ConfigLoader.Parse(Text, BuiltInName, options);
}
