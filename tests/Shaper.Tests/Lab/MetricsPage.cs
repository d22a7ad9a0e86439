using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Shaper.Tests.Lab;

/// <summary>The daemon's metrics page, fetched over HTTP from inside the namespace it runs in.</summary>
public static class MetricsPage
{
    /// <summary>The address the lab's daemons serve metrics on: the receiver's side of the lab.</summary>
    public const string Address = "198.18.0.2:9477";

    /// <summary>The page served at <see cref="Address"/> in <paramref name="lab"/>'s receiver namespace, headers included.</summary>
    public static string Fetch(NetworkLab lab)
    {
        ArgumentNullException.ThrowIfNull(lab);
        using var inB = new NamespaceThread(lab.B);
        return inB.Invoke(() =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
            socket.Connect(IPEndPoint.Parse(Address));
            socket.Send(Encoding.ASCII.GetBytes($"GET /metrics HTTP/1.0\r\nHost: {Address}\r\n\r\n"));
            var page = new StringBuilder();
            var buffer = new byte[16384];
            for (int n; (n = socket.Receive(buffer)) > 0;)
            {
                page.Append(Encoding.UTF8.GetString(buffer, 0, n));
            }

            return page.ToString();
        });
    }
}
