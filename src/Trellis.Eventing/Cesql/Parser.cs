namespace Trellis.Eventing.Cesql;

/// <summary>
/// Recursive descent over the reference grammar (cesql/CESQLParser.g4), from the loosest binding to
/// the tightest: AND/OR/XOR (one level, right-associative), comparisons, + -, * / %, postfix LIKE and
/// IN, then the prefix operators NOT and - and the atoms. Function names are resolved here, so an
/// unknown function or arity is reported before any event is evaluated.
/// </summary>
internal sealed class Parser
{
    private readonly List<Token> _tokens;
    private int _next;

    private Parser(List<Token> tokens) => _tokens = tokens;

    public static (Node? Root, CesqlError? Error) Parse(string text)
    {
        var (tokens, lexError) = Lexer.Tokenize(text);
        if (lexError is not null)
        {
            return (null, lexError);
        }

        var parser = new Parser(tokens);
        try
        {
            var root = parser.Logic();
            if (parser.Peek.Kind != TokenKind.End)
            {
                throw parser.Unexpected("the end of the expression");
            }

            return (root, null);
        }
        catch (ParseFailure failure)
        {
            return (null, failure.Error);
        }
    }

    private Token Peek => _tokens[_next];

    private Token Take() => _tokens[_next++];

    private Node Logic()
    {
        var left = Comparison();
        var op = Peek switch
        {
            var t when Keywords.Is(t, Keywords.And) => BinaryOperator.And,
            var t when Keywords.Is(t, Keywords.Or) => BinaryOperator.Or,
            var t when Keywords.Is(t, Keywords.Xor) => BinaryOperator.Xor,
            _ => (BinaryOperator?)null,
        };
        if (op is null)
        {
            return left;
        }

        var token = Take();
        return new BinaryNode(token.Position, op.Value, left, Logic());
    }

    private Node Comparison()
    {
        var left = Additive();
        while (Peek.Kind is TokenKind.Equal or TokenKind.NotEqual or TokenKind.Less or TokenKind.LessEqual or TokenKind.Greater or TokenKind.GreaterEqual)
        {
            var token = Take();
            var op = token.Kind switch
            {
                TokenKind.Equal => BinaryOperator.Equal,
                TokenKind.NotEqual => BinaryOperator.NotEqual,
                TokenKind.Less => BinaryOperator.Less,
                TokenKind.LessEqual => BinaryOperator.LessEqual,
                TokenKind.Greater => BinaryOperator.Greater,
                _ => BinaryOperator.GreaterEqual,
            };
            left = new BinaryNode(token.Position, op, left, Additive());
        }

        return left;
    }

    private Node Additive()
    {
        var left = Multiplicative();
        while (Peek.Kind is TokenKind.Plus or TokenKind.Minus)
        {
            var token = Take();
            left = new BinaryNode(token.Position, token.Kind == TokenKind.Plus ? BinaryOperator.Add : BinaryOperator.Subtract, left, Multiplicative());
        }

        return left;
    }

    private Node Multiplicative()
    {
        var left = Postfix();
        while (Peek.Kind is TokenKind.Star or TokenKind.Slash or TokenKind.Percent)
        {
            var token = Take();
            var op = token.Kind switch
            {
                TokenKind.Star => BinaryOperator.Multiply,
                TokenKind.Slash => BinaryOperator.Divide,
                _ => BinaryOperator.Modulo,
            };
            left = new BinaryNode(token.Position, op, left, Postfix());
        }

        return left;
    }

    /// <summary><c>x [NOT] LIKE 'pattern'</c> and <c>x [NOT] IN (a, b, …)</c>.</summary>
    private Node Postfix()
    {
        var operand = Unary();
        while (true)
        {
            var negated = Keywords.Is(Peek, Keywords.Not);
            var after = _tokens[Math.Min(_next + (negated ? 1 : 0), _tokens.Count - 1)];
            if (Keywords.Is(after, Keywords.Like))
            {
                var position = Peek.Position;
                _next += negated ? 2 : 1;
                var pattern = Take();
                if (pattern.Kind != TokenKind.String)
                {
                    throw Failure(pattern, "LIKE needs a string literal pattern");
                }

                operand = new LikeNode(position, operand, new LikePattern(pattern.Text), negated);
            }
            else if (Keywords.Is(after, Keywords.In))
            {
                var position = Peek.Position;
                _next += negated ? 2 : 1;
                Expect(TokenKind.LeftParen, "'(' after IN");
                var set = new List<Node> { Logic() };
                while (Peek.Kind == TokenKind.Comma)
                {
                    Take();
                    set.Add(Logic());
                }

                Expect(TokenKind.RightParen, "')' closing the IN set");
                operand = new InNode(position, operand, set, negated);
            }
            else
            {
                return operand;
            }
        }
    }

    private Node Unary()
    {
        var token = Peek;
        if (Keywords.Is(token, Keywords.Not))
        {
            Take();
            return new NotNode(token.Position, Unary());
        }

        if (token.Kind == TokenKind.Minus)
        {
            Take();
            return new NegateNode(token.Position, Unary());
        }

        if (Keywords.Is(token, Keywords.Exists))
        {
            Take();
            var name = Take();
            if (name.Kind != TokenKind.Word || Keywords.IsKeyword(name.Text) || !IsIdentifier(name.Text))
            {
                throw Failure(name, "EXISTS needs an attribute name");
            }

            return new ExistsNode(token.Position, name.Text.ToLowerInvariant());
        }

        return Atom();
    }

    private Node Atom()
    {
        var token = Take();
        switch (token.Kind)
        {
            case TokenKind.Integer:
                return new LiteralNode(token.Position, CesqlValue.Of(token.Integer));
            case TokenKind.String:
                return new LiteralNode(token.Position, CesqlValue.Of(token.Text));
            case TokenKind.LeftParen:
                var inner = Logic();
                Expect(TokenKind.RightParen, "')'");
                return inner;
            case TokenKind.Word when Keywords.Is(token, Keywords.True):
                return new LiteralNode(token.Position, CesqlValue.Of(true));
            case TokenKind.Word when Keywords.Is(token, Keywords.False):
                return new LiteralNode(token.Position, CesqlValue.Of(false));
            case TokenKind.Word when Keywords.IsKeyword(token.Text):
                throw Failure(token, $"unexpected keyword {token.Text.ToUpperInvariant()}");
            case TokenKind.Word when Peek.Kind == TokenKind.LeftParen:
                return Call(token);
            case TokenKind.Word when IsIdentifier(token.Text):
                return new AttributeNode(token.Position, token.Text.ToLowerInvariant());
            default:
                _next--;
                throw Unexpected("a value");
        }
    }

    private CallNode Call(Token name)
    {
        if (!char.IsAsciiLetter(name.Text[0]) || name.Text.Any(c => !char.IsAsciiLetter(c) && c != '_'))
        {
            throw Failure(name, $"'{name.Text}' is not a function name");
        }

        Take();
        var arguments = new List<Node>();
        if (Peek.Kind != TokenKind.RightParen)
        {
            arguments.Add(Logic());
            while (Peek.Kind == TokenKind.Comma)
            {
                Take();
                arguments.Add(Logic());
            }
        }

        Expect(TokenKind.RightParen, $"')' closing the arguments of {name.Text}");
        var function = BuiltinFunctions.Resolve(name.Text, arguments.Count);
        if (function is null)
        {
            var reason = BuiltinFunctions.Exists(name.Text) ? $"{name.Text.ToUpperInvariant()} does not take {arguments.Count} argument(s)" : $"no function named {name.Text.ToUpperInvariant()}";
            throw new ParseFailure(new CesqlError(CesqlErrorKind.MissingFunction, reason, name.Position));
        }

        return new CallNode(name.Position, function, arguments);
    }

    private static bool IsIdentifier(string word) => word.All(char.IsAsciiLetterOrDigit);

    private void Expect(TokenKind kind, string what)
    {
        if (Peek.Kind != kind)
        {
            throw Unexpected(what);
        }

        Take();
    }

    private ParseFailure Unexpected(string expected) =>
        Failure(Peek, Peek.Kind == TokenKind.End ? $"expected {expected} but the expression ended" : $"expected {expected} but found '{Peek.Text}'");

    private static ParseFailure Failure(Token at, string message) => new(new CesqlError(CesqlErrorKind.Parse, message, at.Position));

    /// <summary>Unwinds the descent on the first syntax error; never escapes <see cref="Parse"/>.</summary>
    private sealed class ParseFailure(CesqlError error) : Exception(error.Message)
    {
        public CesqlError Error { get; } = error;
    }
}
