namespace Shaper.Tests.Lab;

/// <summary>What a command printed and how it ended.</summary>
public sealed record ProcessResult(int ExitCode, string Output, string Error)
{
    public ProcessResult EnsureSuccess(string what)
    {
        if (ExitCode != 0)
        {
            throw new InvalidOperationException($"{what} failed ({ExitCode}): {Error}{Output}");
        }

        return this;
    }
}
