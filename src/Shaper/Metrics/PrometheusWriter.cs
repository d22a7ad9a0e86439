using System.Globalization;
using System.Text;

namespace Shaper.Metrics;

/// <summary>
/// Writes the Prometheus text exposition format (version 0.0.4): one <c># HELP</c> and <c># TYPE</c> per
/// family, then its samples. Label values are escaped as the format requires.
/// </summary>
public sealed class PrometheusWriter
{
    private readonly StringBuilder _text = new();
    private readonly HashSet<string> _families = new(StringComparer.Ordinal);

    /// <summary>The content type of the output.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Adds a counter sample; the family header is written once.</summary>
    public PrometheusWriter Counter(string name, string help, double value, params (string Name, string Value)[] labels) =>
        Sample(name, "counter", help, value, labels);

    /// <summary>Adds a gauge sample; the family header is written once.</summary>
    public PrometheusWriter Gauge(string name, string help, double value, params (string Name, string Value)[] labels) =>
        Sample(name, "gauge", help, value, labels);

    /// <inheritdoc />
    public override string ToString() => _text.ToString();

    private PrometheusWriter Sample(string name, string type, string help, double value, (string Name, string Value)[] labels)
    {
        if (_families.Add(name))
        {
            _text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        }

        _text.Append(name);
        if (labels.Length > 0)
        {
            _text.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                if (i > 0)
                {
                    _text.Append(',');
                }

                _text.Append(labels[i].Name).Append("=\"");
                foreach (var c in labels[i].Value)
                {
                    _text.Append(c switch
                    {
                        '\\' => "\\\\",
                        '"' => "\\\"",
                        '\n' => "\\n",
                        _ => c.ToString(),
                    });
                }

                _text.Append('"');
            }

            _text.Append('}');
        }

        _text.Append(' ').Append(double.IsNaN(value) ? "NaN" : value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        return this;
    }
}
