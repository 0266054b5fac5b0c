using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Transport;

public sealed class TempFilesSpecs : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "qmgr-tempfiles-" + Guid.NewGuid().ToString("N"));

    public TempFilesSpecs() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Temp_path_is_hidden_beside_the_target()
    {
        // arrange
        var target = Path.Combine(_dir, "report.pdf");

        // act
        var temp = TempFiles.TempPathFor(target, "DEADBEEF");

        // assert
        Assert.Equal(Path.Combine(_dir, ".report.pdf.qmgr-deadbeef.tmp"), temp);
    }

    [Theory]
    [InlineData("1234567")]
    [InlineData("123456789")]
    [InlineData("1234567g")]
    public void Temp_path_rejects_a_suffix_that_is_not_8_hex_characters(string suffix)
    {
        // arrange
        var target = Path.Combine(_dir, "a.bin");

        // act
        var error = Record.Exception(() => TempFiles.TempPathFor(target, suffix));

        // assert
        Assert.IsType<ArgumentException>(error);
    }

    [Fact]
    public void New_suffix_is_8_lower_case_hex_characters()
    {
        // act
        var suffix = TempFiles.NewSuffix();

        // assert
        Assert.Matches("^[0-9a-f]{8}$", suffix);
    }

    [Fact]
    public void Cut_back_truncates_junk_and_keeps_the_good_prefix()
    {
        // arrange
        var path = Path.Combine(_dir, "t.tmp");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8]);

        // act
        var kept = TempFiles.CutBack(path, 5);

        // assert
        Assert.Equal(5, kept);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, File.ReadAllBytes(path));
    }

    [Fact]
    public void Cut_back_never_extends_a_short_file_and_reports_its_length()
    {
        // arrange
        var path = Path.Combine(_dir, "t.tmp");
        File.WriteAllBytes(path, [1, 2, 3]);

        // act
        var kept = TempFiles.CutBack(path, 10);

        // assert
        Assert.Equal(3, kept);
        Assert.Equal(3, new FileInfo(path).Length);
    }

    [Fact]
    public void Cut_back_of_a_missing_file_keeps_nothing_and_creates_nothing()
    {
        // arrange
        var path = Path.Combine(_dir, "absent.tmp");

        // act
        var kept = TempFiles.CutBack(path, 10);

        // assert
        Assert.Equal(0, kept);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Delete_ignores_a_missing_file_or_directory()
    {
        // arrange
        var present = Path.Combine(_dir, "t.tmp");
        File.WriteAllBytes(present, [1]);

        // act
        var deleted = TempFiles.Delete(present);
        var again = TempFiles.Delete(present);
        var noDir = TempFiles.Delete(Path.Combine(_dir, "no-dir", "x.tmp"));

        // assert
        Assert.Equal((true, false, false), (deleted, again, noDir));
        Assert.False(File.Exists(present));
    }
}
