using System.Globalization;
using System.Text;

namespace Trellis.Eventing.Cesql;

internal enum TokenKind
{
    End,
    Word,
    Integer,
    String,
    LeftParen,
    RightParen,
    Comma,
    Star,
    Slash,
    Percent,
    Plus,
    Minus,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
}

internal readonly record struct Token(TokenKind Kind, string Text, int Position, int Integer = 0);

/// <summary>
/// Splits a CESQL expression into tokens following the reference lexer (cesql/CESQLLexer.g4): keywords
/// are case-insensitive, strings are '…' or "…" with backslash or doubled-quote escapes, integers may
/// carry a sign. Unlike the reference grammar, a sign belongs to the integer only where an operand is
/// expected, so <c>4-1</c> means 4 minus 1 instead of two adjacent literals.
/// </summary>
internal static class Lexer
{
    public static (List<Token> Tokens, CesqlError? Error) Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (true)
        {
            while (i < text.Length && text[i] is ' ' or '\t' or '\r' or '\n')
            {
                i++;
            }

            if (i >= text.Length)
            {
                tokens.Add(new Token(TokenKind.End, "", i));
                return (tokens, null);
            }

            var start = i;
            var c = text[i];
            if (c is '\'' or '"')
            {
                var (value, end, error) = ReadString(text, i);
                if (error is not null)
                {
                    return (tokens, error);
                }

                tokens.Add(new Token(TokenKind.String, value, start));
                i = end;
                continue;
            }

            var signed = c is '+' or '-' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1]) && OperandExpected(tokens);
            if (char.IsAsciiDigit(c) || signed)
            {
                i++;
                while (i < text.Length && char.IsAsciiDigit(text[i]))
                {
                    i++;
                }

                // [a-zA-Z0-9]+ is an identifier (IDENTIFIER_WITH_NUMBER); the longest match wins, as in ANTLR.
                if (!signed && i < text.Length && IsWordChar(text[i]))
                {
                    i = ReadWord(text, start);
                    tokens.Add(new Token(TokenKind.Word, text[start..i], start));
                    continue;
                }

                var digits = text[start..i];
                if (!int.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
                {
                    return (tokens, new CesqlError(CesqlErrorKind.Parse, $"integer literal {digits} is outside the 32-bit range", start));
                }

                tokens.Add(new Token(TokenKind.Integer, digits, start, value));
                continue;
            }

            if (IsWordChar(c))
            {
                i = ReadWord(text, start);
                tokens.Add(new Token(TokenKind.Word, text[start..i], start));
                continue;
            }

            var next = i + 1 < text.Length ? text[i + 1] : '\0';
            (TokenKind kind, int length) op = c switch
            {
                '(' => (TokenKind.LeftParen, 1),
                ')' => (TokenKind.RightParen, 1),
                ',' => (TokenKind.Comma, 1),
                '*' => (TokenKind.Star, 1),
                '/' => (TokenKind.Slash, 1),
                '%' => (TokenKind.Percent, 1),
                '+' => (TokenKind.Plus, 1),
                '-' => (TokenKind.Minus, 1),
                '=' => (TokenKind.Equal, 1),
                '!' when next == '=' => (TokenKind.NotEqual, 2),
                '<' when next == '>' => (TokenKind.NotEqual, 2),
                '<' when next == '=' => (TokenKind.LessEqual, 2),
                '<' => (TokenKind.Less, 1),
                '>' when next == '=' => (TokenKind.GreaterEqual, 2),
                '>' => (TokenKind.Greater, 1),
                _ => (TokenKind.End, 0),
            };
            if (op.length == 0)
            {
                return (tokens, new CesqlError(CesqlErrorKind.Parse, $"unexpected character '{c}'", i));
            }

            tokens.Add(new Token(op.kind, text.Substring(i, op.length), i));
            i += op.length;
        }
    }

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    private static int ReadWord(string text, int i)
    {
        while (i < text.Length && IsWordChar(text[i]))
        {
            i++;
        }

        return i;
    }

    /// <summary>After an operator, '(' or ',' (or at the start) the next token is an operand, so a sign there is part of it.</summary>
    private static bool OperandExpected(List<Token> tokens)
    {
        if (tokens.Count == 0)
        {
            return true;
        }

        var last = tokens[^1];
        return last.Kind switch
        {
            TokenKind.Integer or TokenKind.String or TokenKind.RightParen => false,
            TokenKind.Word => Keywords.IsOperatorWord(last.Text),
            _ => true,
        };
    }

    /// <summary>
    /// A quoted literal: <c>\'</c> (or <c>\"</c>) and a doubled quote stand for the quote itself; any other
    /// backslash is kept as written, so <c>'ab\c'</c> is the four characters a, b, \ and c.
    /// </summary>
    private static (string Value, int End, CesqlError? Error) ReadString(string text, int start)
    {
        var quote = text[start];
        var value = new StringBuilder();
        var i = start + 1;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '\\' && i + 1 < text.Length)
            {
                if (text[i + 1] == quote)
                {
                    value.Append(quote);
                }
                else
                {
                    value.Append(c).Append(text[i + 1]);
                }

                i += 2;
                continue;
            }

            if (c == quote)
            {
                if (i + 1 < text.Length && text[i + 1] == quote)
                {
                    value.Append(quote);
                    i += 2;
                    continue;
                }

                return (value.ToString(), i + 1, null);
            }

            value.Append(c);
            i++;
        }

        return ("", i, new CesqlError(CesqlErrorKind.Parse, "unterminated string literal", start));
    }
}

/// <summary>The reserved words, compared without regard to case (§2).</summary>
internal static class Keywords
{
    public const string And = "AND";
    public const string Or = "OR";
    public const string Xor = "XOR";
    public const string Not = "NOT";
    public const string Like = "LIKE";
    public const string In = "IN";
    public const string Exists = "EXISTS";
    public const string True = "TRUE";
    public const string False = "FALSE";

    private static readonly HashSet<string> All = new([And, Or, Xor, Not, Like, In, Exists, True, False], StringComparer.OrdinalIgnoreCase);

    public static bool IsKeyword(string word) => All.Contains(word);

    public static bool Is(Token token, string keyword) => token.Kind == TokenKind.Word && string.Equals(token.Text, keyword, StringComparison.OrdinalIgnoreCase);

    /// <summary>Keywords after which an operand follows (all but TRUE and FALSE).</summary>
    public static bool IsOperatorWord(string word) => IsKeyword(word) && !word.Equals(True, StringComparison.OrdinalIgnoreCase) && !word.Equals(False, StringComparison.OrdinalIgnoreCase);
}
