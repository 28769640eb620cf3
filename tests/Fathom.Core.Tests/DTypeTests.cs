using Fathom.Core;
using Xunit;

namespace Fathom.Core.Tests;

/// <summary>The safetensors dtype vocabulary: names and element sizes.</summary>
public sealed class DTypeTests
{
    [Theory]
    [InlineData(DType.F64, 8)]
    [InlineData(DType.F32, 4)]
    [InlineData(DType.F16, 2)]
    [InlineData(DType.BF16, 2)]
    [InlineData(DType.F8E4M3, 1)]
    [InlineData(DType.F8E5M2, 1)]
    [InlineData(DType.I64, 8)]
    [InlineData(DType.I32, 4)]
    [InlineData(DType.I16, 2)]
    [InlineData(DType.I8, 1)]
    [InlineData(DType.U8, 1)]
    [InlineData(DType.Bool, 1)]
    public void SizeIsTheElementWidthInBytes(DType type, int bytes)
    {
        Assert.Equal(bytes, type.Size());
    }

    [Fact]
    public void EveryDTypeRoundTripsThroughItsSafeTensorsName()
    {
        foreach (var type in Enum.GetValues<DType>())
        {
            // GGML block formats and the in-memory U4 have display names but are not safetensors dtypes: a
            // header that claims one is an unknown dtype.
            var expected = type.IsBlockFormat() || type == DType.U4 ? (DType?)null : type;
            Assert.Equal(expected, DTypeInfo.FromSafeTensors(type.ToSafeTensors()));
        }
    }

    [Theory]
    [InlineData(DType.F8E4M3, "F8_E4M3")]
    [InlineData(DType.F8E5M2, "F8_E5M2")]
    [InlineData(DType.BF16, "BF16")]
    [InlineData(DType.Bool, "BOOL")]
    [InlineData(DType.I64, "I64")]
    public void ToSafeTensorsUsesTheSpecSpelling(DType type, string name)
    {
        Assert.Equal(name, type.ToSafeTensors());
    }

    [Theory]
    [InlineData("")]
    [InlineData("bf16")]
    [InlineData("F8E4M3")]
    [InlineData("FP8")]
    [InlineData("float32")]
    [InlineData("Bool")]
    public void UnknownNamesParseToNull(string name)
    {
        Assert.Null(DTypeInfo.FromSafeTensors(name));
    }

    [Fact]
    public void SizeOfAnUndefinedValueThrows()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ((DType)99).Size());
    }
}
