"""Numeric replies and CAP subcommands, named as RFC 2812 and modern.ircdocs.horse name them."""

from __future__ import annotations

import enum

__all__ = ["CapSubcommand", "Numeric"]


class Numeric(enum.IntEnum):
    """A numeric reply; `code` is the three-digit command it is sent as (`"001"`)."""

    RPL_WELCOME = 1
    RPL_YOURHOST = 2
    RPL_CREATED = 3
    RPL_MYINFO = 4
    #: The server's features (`NICKLEN=30`, `CASEMAPPING=rfc1459`); RFC 2812 called 005 RPL_BOUNCE.
    RPL_ISUPPORT = 5
    RPL_UMODEIS = 221
    RPL_LUSERCLIENT = 251
    RPL_LUSEROP = 252
    RPL_LUSERUNKNOWN = 253
    RPL_LUSERCHANNELS = 254
    RPL_LUSERME = 255
    RPL_LOCALUSERS = 265
    RPL_GLOBALUSERS = 266
    RPL_AWAY = 301
    RPL_UNAWAY = 305
    RPL_NOWAWAY = 306
    RPL_WHOISUSER = 311
    RPL_WHOISSERVER = 312
    RPL_ENDOFWHO = 315
    RPL_ENDOFWHOIS = 318
    RPL_WHOISCHANNELS = 319
    RPL_LISTSTART = 321
    RPL_LIST = 322
    RPL_LISTEND = 323
    RPL_CHANNELMODEIS = 324
    RPL_CREATIONTIME = 329
    RPL_INVITELIST = 346
    RPL_ENDOFINVITELIST = 347
    RPL_EXCEPTLIST = 348
    RPL_ENDOFEXCEPTLIST = 349
    RPL_NOTOPIC = 331
    RPL_TOPIC = 332
    RPL_TOPICWHOTIME = 333
    RPL_WHOREPLY = 352
    RPL_NAMREPLY = 353
    RPL_ENDOFNAMES = 366
    RPL_BANLIST = 367
    RPL_ENDOFBANLIST = 368
    RPL_MOTD = 372
    RPL_MOTDSTART = 375
    RPL_ENDOFMOTD = 376
    ERR_NOSUCHNICK = 401
    ERR_NOSUCHCHANNEL = 403
    ERR_CANNOTSENDTOCHAN = 404
    ERR_TOOMANYCHANNELS = 405
    ERR_INVALIDCAPCMD = 410
    ERR_NORECIPIENT = 411
    ERR_NOTEXTTOSEND = 412
    #: A line over the limits (`LineTooLong.reply()` builds it); modern.ircdocs, not in RFC 2812.
    ERR_INPUTTOOLONG = 417
    ERR_UNKNOWNCOMMAND = 421
    ERR_NOMOTD = 422
    ERR_NONICKNAMEGIVEN = 431
    ERR_ERRONEUSNICKNAME = 432
    ERR_NICKNAMEINUSE = 433
    ERR_USERNOTINCHANNEL = 441
    ERR_NOTONCHANNEL = 442
    ERR_NOTREGISTERED = 451
    ERR_NEEDMOREPARAMS = 461
    #: RFC 2812 spells it ERR_ALREADYREGISTRED; modern.ircdocs fixed the spelling.
    ERR_ALREADYREGISTERED = 462
    ERR_CHANNELISFULL = 471
    ERR_UNKNOWNMODE = 472
    ERR_CHANOPRIVSNEEDED = 482
    ERR_UMODEUNKNOWNFLAG = 501
    ERR_USERSDONTMATCH = 502

    @property
    def code(self) -> str:
        """The command this numeric is sent as: three digits, zero-padded (`"001"`)."""
        return f"{self.value:03d}"


class CapSubcommand(enum.StrEnum):
    """The subcommands of `CAP` (IRCv3 capability negotiation, version 302)."""

    #: Client asks for the capabilities offered (`CAP LS 302`); server lists them.
    LS = "LS"
    #: Client asks which capabilities are enabled; server lists them.
    LIST = "LIST"
    #: Client asks to enable (or with `-`, disable) capabilities.
    REQ = "REQ"
    #: Server grants a whole `REQ`.
    ACK = "ACK"
    #: Server refuses a whole `REQ`.
    NAK = "NAK"
    #: Client ends negotiation; registration may complete.
    END = "END"
    #: Server offers new capabilities (`cap-notify`).
    NEW = "NEW"
    #: Server withdraws capabilities (`cap-notify`).
    DEL = "DEL"
